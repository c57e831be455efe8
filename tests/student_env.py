"""The students' install, for real: the wheel of ``python -m graders student-wheel`` in a fresh venv without `solutions`.

Used by tests/test_student_env.py (notebooks run in its kernel) and tests/test_course_walk.py (a
student's JupyterLab runs in it).

The venv reuses this venv's third-party packages through a .pth file naming its site-packages:
a path line in a .pth is added to sys.path without processing that folder's own .pth files, so
the editable install of this checkout (`course`, `graders`, `solutions`) does not leak in. The
wheel is installed with ``--no-deps``, the course kernel with ``python -m graders install-kernel``.
`with_jupyter_files` adds what pip puts beside the packages when it installs the wheel's
dependencies (JupyterLab's assets, nbgrader's lab extension and server-extension switches under
``share/jupyter`` and ``etc/jupyter``), linked from this venv, so that ``python -m jupyterlab``
runs from the students' venv as it would on their machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KERNEL = "tf-pytorch-course"
WHEEL = "tf_pytorch_course_student-0.1.0-py3-none-any.whl"


class StudentEnv:
    """A venv holding the students' wheel (and, through a .pth file, this venv's third-party packages)."""

    def __init__(self, root: Path):
        self.root, self.venv = root, root / "venv"
        self.python = self.venv / "bin" / "python"
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        self.env |= {"JUPYTER_PATH": str(self.venv / "share" / "jupyter"), "JUPYTER_DATA_DIR": str(root / "jupyter-data")}

    def run(self, *args, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run this venv's Python (in a folder of its own: never the checkout, whose `solutions` `-m` would find)."""
        return subprocess.run(
            [str(self.python), *args], cwd=cwd or self.root, env=self.env, capture_output=True, text=True, check=check
        )


def run_checked(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def make_student_env(root: Path) -> StudentEnv:
    """Build the students' wheel into `root`/dist and install it, with the course kernel, into a venv at `root`/venv."""
    env = StudentEnv(root)
    built = run_checked([sys.executable, "-m", "graders", "student-wheel", "--dist", str(env.root / "dist")], cwd=REPO)
    wheel = Path(built.stdout.strip().splitlines()[-1])
    assert wheel.name == WHEEL, wheel
    run_checked([sys.executable, "-m", "venv", "--without-pip", str(env.venv)], cwd=env.root)
    site = Path(env.run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    staff = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "staff-packages.pth").write_text("".join(f"{path}\n" for path in staff))
    run_checked(
        [sys.executable, "-m", "pip", "--python", str(env.python), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        cwd=env.root,
    )
    env.run("-m", "graders", "install-kernel")
    return env


def with_jupyter_files(env: StudentEnv) -> StudentEnv:
    """Link this venv's Jupyter data and config files (all but its kernel specs) into the students' venv."""
    staff = Path(sys.prefix)
    data = env.venv / "share" / "jupyter"
    data.mkdir(parents=True, exist_ok=True)
    for entry in (staff / "share" / "jupyter").iterdir():
        if entry.name != "kernels" and not (data / entry.name).exists():
            (data / entry.name).symlink_to(entry)
    config = env.venv / "etc" / "jupyter"
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.symlink_to(staff / "etc" / "jupyter")
    return env
