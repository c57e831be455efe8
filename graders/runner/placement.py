"""Where a batch's jobs run: one GPU each in turn when GPUs are visible, a share of the cores each, and how many at once."""

from __future__ import annotations

import os
import shutil
import subprocess

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def gpu_ids() -> list[str]:
    """Indices of the visible NVIDIA GPUs (empty without `nvidia-smi` or GPUs)."""
    if visible := os.environ.get("CUDA_VISIBLE_DEVICES"):
        return [g for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if not shutil.which("nvidia-smi"):
        return []
    listing = subprocess.run(
        ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True
    )
    return listing.stdout.split() if listing.returncode == 0 else []


def default_jobs(gpus: int) -> int:
    """Submissions graded at once by default: one per core, and at least one per GPU.

    Measured with `make bench` (12 torch_pipeline submissions, 2 cores): 1 job 1.45x stock
    nbgrader, 2 jobs 1.95-2.00x, 3 jobs 1.92-2.06x, 4 jobs 1.83x. The kernels are CPU-bound, so
    more jobs than cores only add contention; the course's models are small enough for several
    kernels to share a GPU.
    """
    return max(1, gpus, os.cpu_count() or 1)


def placed_config(config: dict, provisioner: dict) -> dict:
    """`config` (a job's sections) with the batch's settings added to its sandbox provisioner's."""
    return config | {"SandboxProvisioner": config.get("SandboxProvisioner", {}) | provisioner}


def provisioner_settings(index: int, gpus: list[str], threads: int | None, timeout: float | None, unsafe: bool) -> dict:
    """What the batch sets for its `index`-th job's kernel: one GPU each in turn, a share of the cores."""
    environment = {"CUDA_VISIBLE_DEVICES": gpus[index % len(gpus)]} if gpus else {}
    if threads is not None:  # parallel kernels share the cores instead of each taking them all
        environment |= {variable: str(threads) for variable in THREAD_VARIABLES}
    settings = {"unsafe_no_sandbox": unsafe, "environment": environment}
    return settings | ({"submission_timeout": timeout} if timeout else {})
