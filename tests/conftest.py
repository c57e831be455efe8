"""Shared test set-up: quiet TensorFlow, the real MNIST test set, and GPU-only tests."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

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
