# ruff: noqa: F821 (metadata and package are given by MicroPython's manifestfile.py)
# Freeze the firmware into a MicroPython image: its bytecode then runs from flash and leaves more
# of the heap free than .mpy files do. In your board's manifest, after the port's own:
#     include("$(PORT_DIR)/boards/manifest.py")
#     include("/path/to/envoy-diverter/manifest.py")
# boot.py, main.py and config.json stay on the board's filesystem. No folder named firmware may
# be there: it would hide the frozen package (sys.path is ['', '.frozen', '/lib']), so the data
# files cannot stay beside the code: copy them to the root of the flash, the cloud root CAs as
# certs/*.der (firmware/roots.py looks there) and Home Assistant's entities as ha_entities.txt
# (firmware/mqtt_ha.py likewise).
metadata(version="1.1.0", description="Envoy Diverter: surplus solar power to a water heater")

package("firmware")
