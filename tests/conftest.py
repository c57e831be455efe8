"""Shared test set-up: quiet TensorFlow, the real MNIST test set, GPU-only tests, a PostgreSQL server, Chromium."""

import os
from pathlib import Path

import pytest

from graders.runner.placement import THREAD_VARIABLES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Each pytest-xdist worker, and each kernel its tests start, gets its share of the cores, as each grading job does
# (graders.runner.placement): two thread pools as wide as the machine only spin against each other (PyTorch's two
# OpenMP threads beside the other worker: its pipeline 7 times slower). Set in the workers only: they inherit the
# controller's environment, where a default would stay.
if _workers := os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    for _variable in THREAD_VARIABLES:
        os.environ.setdefault(_variable, str(max(1, (os.cpu_count() or 1) // int(_workers))))

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared/data/mnist"  # CI clones the repo with shared/ beside it


def gpu_visible() -> bool:
    import torch

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if any("gpu" in item.keywords for item in items) and not gpu_visible():
        skip = pytest.mark.skip(reason="needs a CUDA GPU; none is visible")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def mnist_split():
    """The real MNIST test set split 8,000 train / 2,000 test (seed 0), as RawData."""
    from course.data import read_idx, split_arrays

    if not SHARED_MNIST.is_dir():
        pytest.skip(f"real MNIST test set not found at {SHARED_MNIST} (expected ../shared beside the repo)")
    x = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
    y = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    return split_arrays(x, y, n_test=2000, seed=0)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for this test session (tests/postgres.py), stopped at its end."""
    import postgres as pg

    binaries = pg.bin_dir()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run .ci/install-system-packages as root")
    with pg.running(binaries) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, launched by Playwright for one module's tests (tests/browser.py)."""
    from browser import launched_chromium

    with launched_chromium() as launched:
        yield launched
