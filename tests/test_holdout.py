"""The graders' held-out images (graders/check/trusted/holdout.py): none is in the public dataset; a model reads them as it reads the originals.

Each lookup is shown finding the originals of the held-out images first (the control), then none of the
held-out images themselves: in the course's pixel scale (`load_dataset`'s train and test images, all of
the digits) and in the digits' own 17 levels, as published.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from course.data import FILES, HOLDOUT_SIZE, Source, digits_levels, load_dataset, load_published, read_idx
from graders.check.trusted import holdout
from graders.check.trusted.holdout import load_holdout

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared/data/mnist"  # MNIST's test split, as in tests/test_data.py


def found(images: np.ndarray, public: np.ndarray) -> int:
    """How many of `images` are, exactly, an image of `public` (same dtype and shape per image)."""
    rows = {row.tobytes() for row in public}
    return sum(image.tobytes() in rows for image in images)


def as_digits_levels(images: np.ndarray) -> np.ndarray:
    """uint8 images (0..255) mapped back to the digits' published levels (0..16, float64): the course's scaling undone."""
    return np.rint(images.astype(np.float64) * 16 / 255)


def linear_accuracy(train_x, train_y, x, y) -> float:
    """Accuracy on (x, y) of a least-squares linear classifier fitted on (train_x, train_y): an honest trained model."""
    design = lambda images: np.hstack([images.reshape(len(images), -1) / 255.0, np.ones((len(images), 1))])  # noqa: E731
    a = design(train_x)
    weights = np.linalg.solve(a.T @ a + 1e-6 * np.eye(a.shape[1]), a.T @ np.eye(10)[train_y])  # pixels always 0 stay solvable
    return float(np.mean(np.argmax(design(x) @ weights, axis=1) == y))


@pytest.fixture(scope="module")
def digits():
    return load_holdout("digits")


@pytest.fixture(scope="module")
def published():
    return load_published("digits")


def test_the_held_out_digits_are_copies_of_the_left_out_originals(digits, published):
    x, y = digits
    originals = published.x_test[-HOLDOUT_SIZE["digits"] :]
    assert x.dtype == np.uint8 and x.shape == (180, 8, 8) and y.dtype == np.uint8 and y.shape == (180,)
    np.testing.assert_array_equal(y, published.y_test[-180:])
    assert np.abs(x.astype(int) - originals).mean() < holdout.NOISE_STD  # small noise on each image
    assert not x[originals == 0].any()  # on the ink only: the background stays 0
    np.testing.assert_array_equal(load_holdout("digits")[0], x)  # seeded: every grader makes the same images


def test_no_held_out_digit_is_in_the_public_dataset(digits, published):
    x, _ = digits
    originals = published.x_test[-HOLDOUT_SIZE["digits"] :]
    course = load_dataset("digits")
    public, _ = digits_levels()
    assert found(originals, published.x_test) == 180  # the control: the lookups find the originals
    assert found(as_digits_levels(originals), public) == 180
    assert found(x, course.x_train) == found(x, course.x_test) == 0
    assert found(x, np.concatenate([published.x_train, published.x_test])) == 0
    assert found(as_digits_levels(x), public) == 0
    assert found(x.astype(np.float64), public) == 0


def test_a_trained_model_reads_the_held_out_digits_as_well_as_their_originals(digits, published):
    x, y = digits
    course = load_dataset("digits")
    originals = published.x_test[-HOLDOUT_SIZE["digits"] :]
    on_originals = linear_accuracy(course.x_train, course.y_train, originals, y)
    assert on_originals > 0.9
    assert abs(linear_accuracy(course.x_train, course.y_train, x, y) - on_originals) <= 0.03


def test_held_out_mnist_images_are_not_in_mnist(tmp_path):
    """MNIST's own test images as the test file of a cached source: the held-out images are found nowhere in it."""
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"real MNIST test set not found at {SHARED_MNIST} (expected ../shared beside the repo)")
    images, labels = read_idx(SHARED_MNIST / FILES[2]), read_idx(SHARED_MNIST / FILES[3])
    arrays = (images[:2000], labels[:2000], images, labels)  # train: any images; test: MNIST's 10,000
    folder = tmp_path / "mnist"
    folder.mkdir()
    sums = {}
    for name, array in zip(FILES, arrays):
        header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
        body = gzip.compress(header + array.tobytes(), mtime=0)
        (folder / name).write_bytes(body)
        sums[name] = hashlib.sha256(body).hexdigest()
    x, y = load_holdout("mnist", cache_dir=tmp_path, source=Source(base_url="http://127.0.0.1:9/", files=sums))
    assert x.dtype == np.uint8 and x.shape == (1000, 28, 28)
    np.testing.assert_array_equal(y, labels[-1000:])
    assert found(images[-1000:], images) == 1000  # the control
    assert found(x, images) == 0
    on_originals = linear_accuracy(images[:9000], labels[:9000], images[-1000:], y)
    assert on_originals > 0.8
    assert abs(linear_accuracy(images[:9000], labels[:9000], x, y) - on_originals) <= 0.02
