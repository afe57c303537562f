#!/bin/sh
# Create or refresh .venv from requirements.txt. Called by make; safe to run by hand.
# On a fresh Debian, python3 lacks venv/ensurepip until python3-venv is installed.
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import venv, ensurepip" >/dev/null 2>&1; then
    echo "bootstrap: python3 cannot create a virtual environment; installing python3-venv with apt"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q python3-venv
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
touch .venv/.installed
