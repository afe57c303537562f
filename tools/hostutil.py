"""Small helpers shared by the host tools."""

import os
import shutil
import sys

from firmware import config as fwconfig


def venv_tool(name):
    """The path of a command installed next to this Python (.venv/bin), else from the PATH."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.exists(here) else shutil.which(name) or name


def load_config(path):
    """config.json checked by the firmware's own validator; problems are printed. None if any."""
    cfg, errors, warnings = fwconfig.load(path)
    for w in warnings:
        print("config: warning: " + w)
    for e in errors:
        print("config: " + e)
    if errors:
        print("config: %d problem(s); fix %s first" % (len(errors), path))
        return None
    return cfg
