"""No library noise: TensorFlow's start-up lines stay out of stderr, real errors do not."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from submissions import REPO

from graders.check.kernel.quiet import fd2_filtered, startup_noise

STARTUP_LINES = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I0000 00:00:1795635481.210597   31676 port.cc:153] oneDNN custom operations are on.\n",
    "W0000 00:00:1795635481.211569   31676 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.\n",
    "E0000 00:00:1795635483.845470   31676 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error (303)\n",
)


def test_start_up_lines_are_dropped_and_errors_kept(capfd, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")  # no GPU wanted: a failed cuInit is expected
    error = "E0000 00:00:1795635483.845470   31676 some_kernel.cc:52] a real error\n"
    with fd2_filtered(startup_noise):
        for line in (*STARTUP_LINES, error, "Traceback (most recent call last):\n"):
            os.write(2, line.encode())
    assert capfd.readouterr().err == error + "Traceback (most recent call last):\n"


@pytest.mark.slow
def test_the_demo_prints_no_absl_lines():
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}  # as `make demo` runs it
    done = subprocess.run(
        [sys.executable, "-m", "solutions", "--frameworks", "tf1"], cwd=REPO, env=environment, capture_output=True, text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "[tf1] accuracy" in done.stdout
    assert done.stderr == "", f"expected nothing on stderr, found:\n{done.stderr}"
