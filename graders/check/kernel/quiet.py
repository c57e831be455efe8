"""Keep stderr clean while library or student code runs.

nbgrader gives 0 points to a test cell that wrote anything to stderr, and TensorFlow and
PyTorch write C++ logs straight to file descriptor 2, so checks run inside `quiet()`.
Outside a notebook, `import_tensorflow()` imports TensorFlow without its start-up lines.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

#: What TensorFlow's C++ libraries print while it starts, whatever TF_CPP_MIN_LOG_LEVEL says: absl's
#: banner, info and warning lines (``I0000 …``, ``W0000 …``) and the CPU-instruction notice.
STARTUP_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\]|To enable the following instructions:"
)
CUINIT_FAILED = "failed call to cuInit"  # CUDA found no usable GPU


@contextlib.contextmanager
def fd2_filtered(drop: Callable[[str], bool] | None):
    """Hold what is written to file descriptor 2 meanwhile; then write back to it every line but those `drop`
    accepts (none when `drop` is None)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2: nothing to filter
        yield
        return
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                if drop is not None:
                    sink.seek(0)
                    text = sink.read().decode(errors="replace")
                    kept = [line for line in text.splitlines(keepends=True) if not drop(line)]
                    if kept:
                        os.write(2, "".join(kept).encode())
    finally:
        os.close(saved)


def fd2_silenced():
    """Send file descriptor 2 (C++ logs of TensorFlow and PyTorch) to a scratch file meanwhile."""
    return fd2_filtered(None)


@contextlib.contextmanager
def quiet(*contexts):
    """Ignore warnings and discard everything written to stderr (Python's and fd 2), inside `contexts`."""
    with fd2_silenced(), warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), contextlib.ExitStack() as stack:
        warnings.simplefilter("ignore")
        for context in contexts:
            stack.enter_context(context)
        yield


def startup_noise(line: str) -> bool:
    """Whether `line` is one of TensorFlow's start-up lines, or CUDA's failed cuInit where no GPU could be
    used anyway (no NVIDIA driver loaded, or CUDA_VISIBLE_DEVICES hides them all)."""
    no_gpu = not Path("/proc/driver/nvidia").exists() or os.environ.get("CUDA_VISIBLE_DEVICES", "0").strip() in ("", "-1")
    return bool(STARTUP_NOISE.match(line)) or (no_gpu and CUINIT_FAILED in line)


def import_tensorflow():
    """The `tensorflow` module, imported and its devices found without the start-up lines of its C++ libraries.

    Every other line written meanwhile (an error) still reaches stderr; later C++ logs follow
    TF_CPP_MIN_LOG_LEVEL, 2 (errors only) unless set.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with fd2_filtered(startup_noise):
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf
