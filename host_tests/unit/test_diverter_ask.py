# What a person or a program asks of the diverter lives in diverter_ask.py, loaded for the call
# by Diverter.__getattr__ and dropped after: the calls work as methods, the module is not left
# resident, and a name neither has is still an AttributeError.
import sys

from test_diverter import diverter


def test_a_request_loads_diverter_ask_for_the_call_only():
    d, board = diverter()
    sys.modules.pop("firmware.diverter_ask", None)
    d.force_on(5)
    assert d.policy.mode == "manual-on"
    d.auto()
    assert d.policy.mode == "auto"
    d.set_max_import(250)
    assert d.policy.rules.max_import == 250 and d.kept["max_import_w"] == 250 and d.kept_dirty
    assert "firmware.diverter_ask" not in sys.modules


def test_a_name_neither_the_diverter_nor_diverter_ask_has_is_an_attribute_error():
    d, board = diverter()
    for name in ("no_such_request", "_private", "__length_hint__"):
        try:
            getattr(d, name)
        except AttributeError:
            pass
        else:
            raise AssertionError(name)
    assert not hasattr(d, "no_such_request")
    assert "firmware.diverter_ask" not in sys.modules
