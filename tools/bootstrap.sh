#!/bin/sh
# Create or refresh .venv from requirements.txt, and install the Debian packages the tests use.
# Called by make; safe to run by hand. On a fresh Debian, python3 lacks venv/ensurepip until
# python3-venv is installed; the MQTT tests run a real broker (mosquitto, mosquitto_sub).
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
need=""
"$PY" -c "import venv, ensurepip" >/dev/null 2>&1 || need="$need python3-venv"
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need="$need mosquitto"
command -v mosquitto_sub >/dev/null 2>&1 || need="$need mosquitto-clients"
if [ -n "$need" ]; then
    echo "bootstrap: installing$need with apt"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $need
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
touch .venv/.installed
