# Runs first on every reset. Drive the relay OFF before anything else: a soft reset keeps GPIO
# levels, so a relay that was on would otherwise stay on. Must return quickly and never raise.
try:
    from firmware.board import relay_off_at_boot

    relay_off_at_boot()
except Exception as e:
    print("boot: could not claim the relay pin:", repr(e))
