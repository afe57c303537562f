# Runs first on every reset. Drive the relay OFF before anything else: a soft reset keeps GPIO
# levels, so a relay that was on would otherwise stay on. The pin comes from config.json or, when
# that is broken, from relay.json (the last config that passed). Quick, and never raises.
try:
    from firmware.board import relay_off_at_boot

    relay_off_at_boot()
except Exception as e:
    print("boot: could not claim the relay pin:", repr(e))
