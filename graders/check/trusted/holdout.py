"""The graders' held-out images: noisy copies of the test images that `course.data.load_dataset` leaves out.

    x, y = load_holdout("digits")   # uint8 (180, 8, 8), uint8 (180,): the results cell's images and labels

The originals (the last `HOLDOUT_SIZE[name]` images of the published test split) are public:
anyone can look them up in scikit-learn's digits or MNIST. The held-out images are those originals
with seeded Gaussian noise on their ink (every pixel that is not 0), rounded and clipped to the pixel
range, so no held-out image is any image of the public dataset, in its pixel scale or in
scikit-learn's 17 levels of digits (the noise is three quarters of a level there). The labels are
the originals'. A trained model classifies them about as well as the originals. What was left out, measured
on digits: noise on the background (clipped at 0, it brightens the whole image) costs a linear model
a tenth of its accuracy, and a shift, even by a quarter of a pixel, costs the reference MLP as much.

Trusted side only: this module is not in the students' wheel (graders/author/student.py) and not
bound into the grading sandbox, so neither the images' labels nor the way to remake them reach a kernel.
"""

from __future__ import annotations

import numpy as np

from course.data import DATASETS, HOLDOUT_SIZE, load_published

NOISE_STD = 12.0  # in pixel values (0..255): three quarters of a level of scikit-learn's digits (255 / 16 per level)
SEED = 19


def recipe() -> dict:
    """What makes the held-out images; the reference figures were computed on images made this way."""
    return {"noise_std": NOISE_STD, "seed": SEED}


def add_noise(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """images with Gaussian noise of NOISE_STD on every pixel that is not 0, rounded and clipped to the range of their
    integer dtype, in that dtype."""
    limits = np.iinfo(images.dtype)
    noise = np.where(images > 0, rng.normal(0.0, NOISE_STD, images.shape), 0.0)
    return np.clip(np.rint(images + noise), limits.min, limits.max).astype(images.dtype)


def load_holdout(name: str = "digits", **where) -> tuple[np.ndarray, np.ndarray]:
    """The held-out images of dataset `name`, uint8 (N, H, W), and their labels, uint8 (N,).

    The same every time (seeded by SEED and the dataset). Keywords: where the dataset's files are,
    as for `course.data.load_dataset`.
    """
    published = load_published(name, **where)
    n = HOLDOUT_SIZE[name]
    rng = np.random.default_rng([SEED, DATASETS.index(name)])
    return add_noise(published.x_test[-n:], rng), published.y_test[-n:]
