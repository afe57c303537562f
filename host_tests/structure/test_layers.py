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
