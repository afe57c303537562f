# Asking for an update, from the REPL (diag.update()) or Home Assistant (its update entity's
# Install button, mqtt_cmd.py): the wish goes to update.json and the board restarts, heater OFF,
# to install at boot (update_boot.py). Also what the REPL and Home Assistant show about updates.
# Loaded for one of these, then unloaded.
from firmware import VERSION, store

FILE = "update.json"  # written by update_boot.py


def install(d, version, who, later=False):
    """Install version ("latest": whatever is newest) at the next boot, now (later: at the end of
    the MQTT command's pass). ValueError when it cannot be asked for."""
    if not d.cfg["update"]["url"]:
        raise ValueError("no update.url in config.json (README: Updates)")
    rec = store.load(FILE) or {}
    rec["want"] = version
    if not store.save(FILE, rec):
        raise ValueError("update.json could not be saved")
    line = (
        "update: %s asked for %s; restarting to install it at boot (the heater is OFF meanwhile)"
        % (
            who,
            "the latest release" if version == "latest" else version,
        )
    )
    if later:
        d.asked = line
    else:
        d.restart_for_update(line)


def offer():
    """The release the last look found and this board may install: {version, notes, summary},
    or None (also once it failed its trial here: it is not installed again)."""
    from firmware.update_manifest import version as parse
    from firmware.update_slot import failed_versions

    o = (store.load(FILE) or {}).get("offer")
    if type(o) is not dict or type(o.get("version")) is not str:
        return None
    if o["version"] in failed_versions():
        return None
    try:
        return o if parse(o["version"]) > parse(VERSION) else None
    except ValueError:
        return None


def state(in_progress=False):
    """Home Assistant's update entity state (MQTT_JSON_UPDATE_SCHEMA's keys only; no null but
    update_percentage's)."""
    import json

    o = offer()
    s = {
        "installed_version": VERSION,
        "latest_version": o["version"] if o else VERSION,
        "title": "Envoy Diverter",
        "in_progress": in_progress,
        "update_percentage": None,
    }
    note = _note()
    summary = note or (o.get("summary") if o else "") or ""
    if type(summary) is str:
        s["release_summary"] = summary[:255]
    if o and type(o.get("notes")) is str and o["notes"].startswith("https://"):
        s["release_url"] = o["notes"]
    return json.dumps(s).encode()


def _note():
    from firmware.update_slot import read

    p, _ = read()
    return p.get("note") if p else None


def lines(cfg):
    """For diag.status() and diag.update(): where updates stand, in a few lines."""
    from firmware.update_slot import read, where

    p, why = read()
    rec = store.load(FILE) or {}
    out = [
        "installed %s in %s%s"
        % (
            VERSION,
            where(p["active"]) if p else "the root of the flash",
            " (on trial)" if p and p.get("trial") is not None else "",
        )
    ]
    if why:
        out.append("app.json is damaged (%s)" % why)
    if p and p.get("previous") is not None:
        out.append(
            "previous: %s in %s (diag.rollback() goes back to it)"
            % (p.get("previous_version") or "?", where(p["previous"]))
        )
    if p and p.get("failed"):
        out.append("failed here, never installed again: " + ", ".join(p["failed"]))
    if not cfg["update"]["url"]:
        out.append("no update.url: no updates over the air")
        return out
    o = offer()
    out.append("server: %s; last look: %s" % (cfg["update"]["url"], rec.get("said") or "none yet"))
    if o:
        out.append(
            "available: %s%s" % (o["version"], "; notes: " + o["notes"] if o.get("notes") else "")
        )
    return out
