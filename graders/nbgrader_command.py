"""How the course runs nbgrader's command line: `NBGRADER` (this interpreter's), in `nbgrader_env()`."""

import os
import sys
from pathlib import Path

NBGRADER = [sys.executable, "-m", "nbgrader"]


def nbgrader_env() -> dict:
    """Environment for an nbgrader subprocess.

    nbgrader 0.9.6 creates a gradebook by running the ``alembic`` command found on PATH
    (nbgrader/api.py, get_alembic_version), so a venv that is not activated fails with
    "No such file or directory: 'alembic'": put this interpreter's bin folder first.
    """
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")]) if env.get("PATH") else bin_dir
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env
