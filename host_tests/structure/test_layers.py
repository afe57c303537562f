# The firmware's layer map (tools/layers.py): no import up a layer, no cycle, lazy imports and
# modules loaded by name included; and the checker itself catches each kind of break.
from tools import layers


def test_the_firmware_keeps_its_layers():
    found = layers.problems(layers.graph())
    assert not found, "\n".join(found)


def test_an_import_up_a_layer_is_caught():
    edges = {"clock": {"diverter"}, "diverter": set()}
    found = layers.problems(edges)
    assert found == [
        "clock (base and codecs) imports diverter (the loop and MQTT): an import up a layer"
    ]


def test_a_cycle_within_a_layer_is_caught():
    edges = {
        "envoy": {"envoy_setup"},
        "envoy_setup": {"envoy_parse", "envoy"},
        "envoy_parse": set(),
    }
    assert layers.problems(edges) == ["a cycle: envoy <-> envoy_setup"]


def test_a_module_without_a_layer_is_caught():
    assert layers.problems({"newthing": set()}) == [
        "newthing: in no layer (add it to tools/layers.py LAYERS)"
    ]


def test_lazy_and_by_name_imports_count():
    source = (
        "from firmware import console\n"
        "_SETUP = 'firmware.link_setup'\n"
        "def f():\n"
        "    from firmware.envoy import Envoy\n"
        "    import firmware.http\n"
        "    from firmware import VERSION\n"
    )
    known = ["console", "link_setup", "envoy", "http"]
    assert layers.imports(source, known) == {"console", "link_setup", "envoy", "http"}


def test_the_readmes_drawing_shows_the_layers_as_they_are():
    import os
    import re

    with open(os.path.join(layers.ROOT, "README.md")) as f:
        text = f.read()
    block = text.split("## Layout", 1)[1].split("```")[1]
    drawn, index = {}, None
    for line in block.splitlines():
        m = re.match(r"(\d) (\S+(?: \S+)*?)  +(.*)", line)
        if m:
            index = int(m.group(1))
            names = m.group(3)
        else:
            names = line.strip()
        for name in names.replace(",", " ").split():
            drawn[name] = index
    wanted = {name: i for name, i in layers.layer_of().items() if name in layers.graph()}
    assert drawn == wanted, sorted(set(drawn.items()) ^ set(wanted.items()))
