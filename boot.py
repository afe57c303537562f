# Runs first on every reset. Drive the relay OFF before anything else: a soft reset keeps GPIO
# levels, so a relay that was on would otherwise stay on. The pin comes from config.json or, when
# that is broken, from relay.json (the last config that passed). Quick, and never raises.
# Which app: app.json names the slot (app/a, app/b) that an update or a deploy put it in; without
# it, the app at the root of the flash. Only that small file is read before the relay is
# claimed, and nothing is written: the relay is claimed with the code of the proven version
# (during a new version's trial, the previous one's), which then counts the trial boot and may
# roll it back (firmware/update_slot.py), and the chosen app's folder goes first on sys.path.
# Without a trial, and with the active slot holding an app, that rule's code is not loaded at all
# (its names would stay in the heap for good).
import sys


def _boot():
    import os

    def app_in(slot):
        try:
            os.stat("app/%s/firmware" % slot if slot else "firmware")
            return True
        except OSError:
            return False

    order = []
    rule = True  # update_slot.at_boot is needed: a trial, or a pointer damaged or wrong
    active = trial = None
    try:
        import json

        with open("app.json") as f:
            p = json.loads(f.read(1024))
        active, trial = p.get("active"), p.get("trial")
        order = [active, p.get("previous")]
        if trial is not None:
            order.reverse()  # a version on trial is not proven: the previous one's code first
    except OSError:
        rule = False  # no pointer: the app at the root of the flash
    except Exception:
        pass  # a damaged one (update_slot.at_boot says so)
    proven = ""
    for slot in order + ["a", "b", ""]:
        if slot in ("a", "b", "") and app_in(slot):
            proven = slot
            break
    if active is not None and trial is None and active == proven:
        rule = False  # the active slot runs, no trial: the rule's code is not even loaded
    if proven:
        sys.path.insert(0, "app/" + proven)
    try:
        from firmware.board import relay_off_at_boot

        relay_off_at_boot()
    except Exception as e:
        print("boot: could not claim the relay pin:", repr(e))
    run = proven
    if rule:
        try:
            from firmware.update_slot import at_boot

            run = at_boot(proven)
            del at_boot
            from firmware.compat import unload

            unload("firmware.update_slot")  # boot only: its code does not stay in the heap
        except ImportError:
            pass  # an app from before updates
        except Exception as e:
            print("boot: could not choose the app's slot:", repr(e))
    if run != proven:  # the app runs from another folder: its own modules, not these
        for name in list(sys.modules):
            if name == "firmware" or name.startswith("firmware."):
                del sys.modules[name]
        if proven:
            sys.path.pop(0)
        if run:
            sys.path.insert(0, "app/" + run)


_boot()
del _boot
