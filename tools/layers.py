"""The firmware's layers, named once: a module imports only from its own layer or below, and no
import closes a cycle, lazy imports (inside functions) and modules named by string (loaded and
unloaded by name) included. host_tests/structure/test_layers.py enforces it; this command draws
the map and lists what breaks it:

    python -m tools.layers          # the layers, each module with what it imports
    python -m tools.layers --check  # exit status 1 on an upward import or a cycle

The package stays flat (a subpackage costs about 0.4 KB of the ESP32's heap each), so the layer
of a module is said here and, where it pays, by its name's prefix (envoy_*, mqtt_*, update_*,
tank_*, burst_*, board_*)."""

import ast
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")

# Lowest first. Within a layer a module may import another of its layer, without a cycle.
LAYERS = (
    (
        "base and codecs",
        "compat compat_cpython console clock clock_text strictjson jwt urls pins reasons roots "
        "store",
    ),
    (
        "net, board and config",
        "http http_body mqtt board board_esp32 board_sim bootrelay burst_rmt burst_sim config "
        "settings lastwords release_key update_sig update_manifest update_slot tank_sim "
        "tank_config",
    ),
    (
        "cloud and Envoy",
        "guard tokens account enlighten_http enlighten enlighten_web bootlogin renewal "
        "envoy_parse envoy_json envoy_repin envoy_setup envoy battery ensemble link_setup link "
        "update_fetch update_ask",
    ),
    (
        "control",
        "energy heater policy control boost burst lag tank_say tank_rules tank accounting",
    ),
    ("output", "output burst_out"),
    (
        "the loop and MQTT",
        "details reports mqtt_ha mqtt_cmd mqtt_link mqtt_drop diverter_ask diverter "
        "update_install update_watch update_boot startup app",
    ),
    ("the REPL", "diag"),
)

_NAMED = re.compile(r"firmware\.(\w+)$")


def layer_of():
    """module -> its layer's index."""
    out = {}
    for i, (_, names) in enumerate(LAYERS):
        for name in names.split():
            out[name] = i
    return out


def modules(folder=FIRMWARE):
    return sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py") and f != "__init__.py")


def imports(source, known):
    """The firmware modules a module's source imports, at the top or lazily, or names by string."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "firmware":
                found |= {a.name for a in node.names if a.name in known}
            elif node.module.startswith("firmware."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("firmware.")}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            m = _NAMED.match(node.value)
            if m and m.group(1) in known:
                found.add(m.group(1))
    return found & set(known)


def graph(folder=FIRMWARE):
    """module -> the set of firmware modules it imports."""
    known = modules(folder)
    out = {}
    for name in known:
        with open(os.path.join(folder, name + ".py")) as f:
            out[name] = imports(f.read(), known) - {name}
    return out


def cycles(edges):
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def problems(edges, layers=None):
    """Each module without a layer, each import that goes up a layer, each cycle: in words."""
    layers = layer_of() if layers is None else layers
    out = []
    for name in sorted(edges):
        if name not in layers:
            out.append("%s: in no layer (add it to tools/layers.py LAYERS)" % name)
            continue
        for dep in sorted(edges[name]):
            if dep in layers and layers[dep] > layers[name]:
                out.append(
                    "%s (%s) imports %s (%s): an import up a layer"
                    % (name, LAYERS[layers[name]][0], dep, LAYERS[layers[dep]][0])
                )
    for group in cycles(edges):
        out.append("a cycle: %s" % " <-> ".join(group))
    return out


def draw(edges):
    layers = layer_of()
    lines = []
    for i in reversed(range(len(LAYERS))):
        title, names = LAYERS[i]
        present = [n for n in names.split() if n in edges]
        lines.append("%d %s" % (i, title))
        for n in present:
            lines.append("    %-16s -> %s" % (n, " ".join(sorted(edges[n])) or "-"))
    lines.extend("? %s (no layer)" % n for n in sorted(set(edges) - set(layers)))
    return "\n".join(lines)


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m tools.layers", description="The firmware's layers and their imports."
    )
    ap.add_argument("--check", action="store_true", help="only the problems; exit status 1")
    args = ap.parse_args(argv)
    edges = graph()
    found = problems(edges, layer_of())
    if not args.check:
        print(draw(edges))
    for line in found:
        print("layers: " + line)
    if args.check and not found:
        print(
            "layers: %d modules in %d layers, no upward import, no cycle"
            % (len(edges), len(LAYERS))
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
