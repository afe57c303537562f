# Home Assistant's update entity, end to end against the real mosquitto: its discovery (only keys
# homeassistant/components/mqtt/update.py takes), its state (MQTT_JSON_UPDATE_SCHEMA's keys, no
# null but update_percentage), the Install button installing the version the board announced and
# no other, in progress until the board is back, and retained or bad commands ignored.
import json

from test_mqtt_e2e import UID, broker  # noqa: F401 (fixture)
from test_update_e2e import pointer, rel, upboard  # noqa: F401 (fixtures)

SIM_SPEED = 10
CONFIG = "homeassistant/update/%s/firmware/config" % UID
STATE = UID + "/update"
COMMAND = UID + "/update/set"
# What Home Assistant accepts (PLATFORM_SCHEMA_MODERN with the common entity keys; abbreviated).
DISCOVERY_KEYS = {
    "~",
    "name",
    "uniq_id",
    "stat_t",
    "cmd_t",
    "payload_install",
    "dev_cla",
    "ent_cat",
    "title",
    "avty_t",
    "dev",
}
STATE_KEYS = {
    "installed_version",
    "latest_version",
    "title",
    "release_summary",
    "release_url",
    "entity_picture",
    "in_progress",
    "update_percentage",
}


def states(w, after=0):
    return [json.loads(p) for _, t, p in w.messages[after:] if t == STATE]


def wait_state(w, pred, timeout=30, after=0):
    return json.loads(
        w.wait(lambda r, t, p: t == STATE and pred(json.loads(p)), timeout, after)[2]
    )


def check_state(s):
    assert set(s) <= STATE_KEYS, set(s) - STATE_KEYS
    for k, v in s.items():
        assert v is not None or k == "update_percentage", k  # HA drops a message with a null
    assert type(s["in_progress"]) is bool


def test_the_update_entity_announces_installs_what_it_announced_and_ignores_the_rest(
    sim,
    rel,  # noqa: F811
    upboard,  # noqa: F811
    broker,  # noqa: F811
):
    rel.publish("1.1.1", summary="fixes for Envoy 8.3")
    br = broker()
    w = br.watch()
    # A retained Install left on the broker (from before a restart) must not install anything.
    br.publish(COMMAND, "install", retain=True)
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard(rel.update(auto=False), mqtt={"host": "127.0.0.1", "port": br.port})
    b.wait_for("update: 1.1.1 is available (this is 1.1.0)", 30)
    b.wait_for("mqtt: connected", 30)

    c = json.loads(w.wait(lambda r, t, p: t == CONFIG and p)[2])
    assert set(c) == DISCOVERY_KEYS, set(c) ^ DISCOVERY_KEYS
    assert (c["stat_t"], c["cmd_t"], c["payload_install"]) == (
        "~/update",
        "~/update/set",
        "install",
    )
    assert c["dev_cla"] == "firmware" and c["avty_t"] == "~/status" and c["dev"]["ids"] == [UID]
    s = wait_state(w, lambda s: True)
    check_state(s)
    assert (s["installed_version"], s["latest_version"], s["in_progress"]) == (
        "1.1.0",
        "1.1.1",
        False,
    )
    assert s["release_url"] == "https://example.com/notes/1.1.1"
    assert s["release_summary"] == "fixes for Envoy 8.3"

    # The retained Install, and another payload: ignored, nothing installed.
    b.wait_for("mqtt: ignored a retained %s: only a fresh command is obeyed" % COMMAND, 20)
    br.publish(COMMAND, "", retain=True)  # clear it
    br.publish(COMMAND, "go")
    b.wait_for("mqtt: ignored update=go: expected install", 20)
    assert pointer(b)["active"] == "a"

    # The server moves on to 1.1.2 after the board announced 1.1.1: Install installs 1.1.1 or
    # nothing, never what the board did not announce.
    rel.publish("1.1.2")
    mark = len(w.messages)
    br.publish(COMMAND, "install")
    b.wait_for("mqtt: command update=install", 20)
    s = wait_state(w, lambda s: s["in_progress"], after=mark)
    check_state(s)
    b.wait_for("update: Home Assistant asked for 1.1.1; restarting to install it at boot", 20)
    b.wait_for(
        "update: the server now offers 1.1.2, not 1.1.1 as announced: nothing installed", 30
    )
    b.wait_for("mqtt: connected", 30)
    s = wait_state(w, lambda s: not s["in_progress"], after=mark)
    assert (s["installed_version"], s["latest_version"]) == ("1.1.0", "1.1.2")
    assert pointer(b)["active"] == "a"

    # Now it announced 1.1.2: Install installs it, in progress until the board is back on it.
    mark = len(w.messages)
    br.publish(COMMAND, "install")
    wait_state(w, lambda s: s["in_progress"], after=mark)
    b.wait_for("update: 1.1.2 installed in slot b", 40)
    b.wait_for("diverter 1.1.2", 30)
    s = wait_state(w, lambda s: s["installed_version"] == "1.1.2", 40, mark)
    check_state(s)
    assert (s["latest_version"], s["in_progress"]) == ("1.1.2", False)
    b.wait_for("update: 1.1.2 proved itself healthy", 60)
    assert pointer(b)["active"] == "b"


def test_without_an_update_url_there_is_no_update_entity(sim, upboard, broker):  # noqa: F811
    br = broker()
    w = br.watch()
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard({"url": ""}, mqtt={"host": "127.0.0.1", "port": br.port})
    b.wait_for("mqtt: connected", 30)
    w.wait(lambda r, t, p: t == CONFIG and p == "")  # an empty config removes the entity
    b.wait_for("summary", 30)
    assert states(w) == []


def test_a_rollback_is_said_on_the_update_entity(
    sim,
    rel,  # noqa: F811
    upboard,  # noqa: F811
    broker,  # noqa: F811
):
    from test_update_rollback import BROKEN_IMPORT

    rel.publish("1.1.1", BROKEN_IMPORT)
    br = broker()
    w = br.watch()
    sim.envoy.live = sim.steady(3000, -2600)
    b = upboard(mqtt={"host": "127.0.0.1", "port": br.port})
    b.wait_for("update: 1.1.1 installed in slot b", 30)
    b.wait_for("boot: update: back to 1.1.0 from 1.1.1", 90)
    s = wait_state(w, lambda s: "back to 1.1.0" in s.get("release_summary", ""), 40)
    check_state(s)
    # Nothing to install any more: the failed version is not announced, nor installable.
    assert (s["installed_version"], s["latest_version"], s["in_progress"]) == (
        "1.1.0",
        "1.1.0",
        False,
    )
    assert "release_url" not in s
    assert "1.1.1: did not prove itself healthy in 3 boots" in s["release_summary"]
    assert "1.1.1 is not installed again" in s["release_summary"]
    b.wait_for("mqtt: connected", 30)
    br.publish(COMMAND, "install")
    b.wait_for("mqtt: ignored update=install: no new release is known to this board", 20)
    assert pointer(b)["active"] == "a" and pointer(b)["failed"] == ["1.1.1"]
