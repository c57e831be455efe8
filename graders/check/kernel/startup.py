"""The course's Jupyter kernels: `tf-pytorch-course`, and its sandboxed twin for grading.

One kernel for every assignment, on CPU and GPU alike (the notebooks pick the device
themselves through `course.devices`). It is this environment's Python plus:

* environment variables that make TensorFlow quiet and the frameworks deterministic;
* ``--IPKernelApp.capture_fd_output=False``: C/C++ libraries (TensorFlow's absl logging,
  CUDA, XLA) write straight to file descriptor 2. ipykernel normally forwards that into
  the *running* cell's stderr, and nbgrader gives 0 points to a test cell with any stderr
  output, so a correct student would lose points for a log line. With the capture off,
  those lines go to the kernel's own log instead. Python-level ``sys.stderr`` (warnings,
  ``logging``) still reaches the notebook;
* `startup()`, run in every new kernel before the first cell: fixed seeds, no
  Deprecation/Future/User warnings on stderr for the same reason, and the garbage collector's
  oldest generation collected a tenth as often (`OLDEST_GENERATION_THRESHOLD`).

`startup()` must stay cheap: it never imports TensorFlow or PyTorch.

`tf-pytorch-course-grading` is the same kernel launched by the sandbox provisioner
(`graders.runner.provisioner`); nbgrader's config grades with it. It is installed where the
grading runner is (the staff install), and interrupted by message: a signal from outside
would reach the sandbox's launcher, not the kernel.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "tf-pytorch-course"
DISPLAY_NAME = "Python 3 (TF + PyTorch course)"
GRADING_KERNEL_NAME = "tf-pytorch-course-grading"
GRADING_DISPLAY_NAME = "Python 3 (TF + PyTorch course, grading sandbox)"
PROVISIONER = "course-sandbox"  # the entry point of graders.runner.provisioner.SandboxProvisioner
LANGUAGE = "python"
#: The notebooks' ``metadata.kernelspec`` (see graders.author.build).
KERNELSPEC = {"name": KERNEL_NAME, "display_name": DISPLAY_NAME, "language": LANGUAGE}

STARTUP_CODE = "from graders.check.kernel.startup import startup; startup()"

ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONHASHSEED": "0",
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
    "TF_DETERMINISTIC_OPS": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}

SEED = 0
QUIET_WARNINGS = (DeprecationWarning, FutureWarning, UserWarning)
#: Collections of the middle generation before one of the oldest (Python's default: 10). Importing TensorFlow or PyTorch
#: makes some 400,000 objects, and at the default the collector traverses them all again and again while they load:
#: a sixth of those imports' CPU seconds (benchmarks/imports.py). The young generations are collected as before.
OLDEST_GENERATION_THRESHOLD = 100


def kernel_json(python: str | None = None, grading: bool = False) -> dict:
    """The kernel.json contents for `python` (default: the interpreter running this code); `grading`:
    the sandboxed grading kernel."""
    spec = {
        "argv": [
            python or sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.capture_fd_output=False",
            f"--IPKernelApp.exec_lines={STARTUP_CODE}",
        ],
        "display_name": DISPLAY_NAME,
        "language": LANGUAGE,
        "env": dict(ENV),
        "metadata": {"debugger": True},
    }
    if grading:
        spec["display_name"] = GRADING_DISPLAY_NAME
        spec["interrupt_mode"] = "message"
        spec["metadata"] = {"kernel_provisioner": {"provisioner_name": PROVISIONER}}
    return spec


def install_kernel(prefix: str | Path | None = None, python: str | None = None) -> Path:
    """Install the `tf-pytorch-course` kernel spec into ``<prefix>/share/jupyter/kernels/``, and the
    grading kernel's beside it where the grading runner is installed.

    `prefix` defaults to ``sys.prefix`` (this virtual environment), where Jupyter and
    nbgrader started from this environment find it. Replaces an existing installation.
    Returns the course kernel spec's directory.
    """
    installed = _install_spec(KERNEL_NAME, kernel_json(python), prefix)
    if importlib.util.find_spec("graders.runner") is not None:
        _install_spec(GRADING_KERNEL_NAME, kernel_json(python, grading=True), prefix)
    return installed


def _install_spec(name: str, spec: dict, prefix: str | Path | None) -> Path:
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        spec_dir = Path(tmp) / name
        spec_dir.mkdir()
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
        _copy_logos(spec_dir)
        installed = KernelSpecManager().install_kernel_spec(str(spec_dir), name, prefix=str(prefix or sys.prefix))
    return Path(installed)


def _copy_logos(spec_dir: Path) -> None:
    """ipykernel's Python logos, so the launcher shows a familiar icon (best effort)."""
    try:
        import ipykernel
    except ImportError:  # pragma: no cover - ipykernel is a dependency
        return
    resources = Path(ipykernel.__file__).parent / "resources"
    for logo in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
        if (resources / logo).is_file():
            shutil.copy(resources / logo, spec_dir / logo)


def startup() -> None:
    """Run once in every new course kernel (via IPKernelApp.exec_lines).

    Seeds Python's `random` and NumPy's global generator with 0, silences
    Deprecation/Future/User warnings, which would otherwise print to stderr and cost a
    passing test cell its points, and sets the garbage collector's oldest threshold to
    `OLDEST_GENERATION_THRESHOLD`. Imports neither TensorFlow nor PyTorch.

    The kernel machinery draws from `random` between start-up and the first cell, so in
    IPython the seeds are set again just before the first cell runs: the first cell of
    every fresh kernel sees exactly the state of ``random.seed(0)``.
    """
    import gc
    import warnings

    for category in QUIET_WARNINGS:
        warnings.simplefilter("ignore", category)
    youngest, middle, _ = gc.get_threshold()
    gc.set_threshold(youngest, middle, OLDEST_GENERATION_THRESHOLD)
    seed()
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - plain Python
        return
    shell = get_ipython()
    if shell is None:
        return

    def seed_before_first_cell(*_):
        seed()
        shell.events.unregister("pre_run_cell", seed_before_first_cell)

    shell.events.register("pre_run_cell", seed_before_first_cell)


def seed(value: int = SEED) -> None:
    """Seed Python's `random` and NumPy's global generator (NumPy only if installed)."""
    import random

    random.seed(value)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return
    np.random.seed(value)
