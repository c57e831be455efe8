"""Checks on data: raw arrays, value ranges, labels, split sizes, equality up to ordering."""

from __future__ import annotations

import numpy as np

from graders.check.shared.checks.failures import CheckFailed, show
from graders.check.shared.checks.shapes import check_dtype

RAW_FIELDS = ("x_train", "y_train", "x_test", "y_test")


def check_raw_data(raw, expected_shapes: dict[str, tuple] | None = None) -> str:
    """Pass for four uint8 arrays: images (N, H, W), labels (N,) in 0..9, as MNIST-format RawData.

    With `expected_shapes` (field -> shape), the shapes must also be those.
    """
    try:
        arrays = tuple(raw)
    except TypeError:
        arrays = ()
    if len(arrays) != 4:
        raise CheckFailed(
            "return value",
            "4 arrays (x_train, y_train, x_test, y_test)",
            type(raw).__name__,
            "what download returns",
        )
    for name, array in zip(RAW_FIELDS, arrays):
        if not isinstance(array, np.ndarray):
            raise CheckFailed(f"{name} type", "numpy.ndarray", type(array).__name__, "what download returns")
        check_dtype(name, array, np.uint8, "keep the raw pixels and labels as uint8")
        ndim = 3 if name.startswith("x") else 1
        if array.ndim != ndim:
            raise CheckFailed(f"{name} dimensions", "(N, H, W)" if ndim == 3 else "(N,)", array.shape)
        if expected_shapes and tuple(array.shape) != tuple(expected_shapes[name]):
            raise CheckFailed(
                f"{name} shape", tuple(expected_shapes[name]), tuple(array.shape), "which dataset is loaded"
            )
    for images, labels in ((arrays[0], arrays[1]), (arrays[2], arrays[3])):
        if len(images) != len(labels):
            raise CheckFailed("images and labels differ in number", len(images), len(labels))
    check_labels("y_train", arrays[1])
    check_labels("y_test", arrays[3])
    return "4 uint8 arrays " + ", ".join(show(tuple(a.shape)) for a in arrays)


def check_equal_arrays(name: str, found, expected, hint: str | None = None) -> str:
    """Pass when two arrays have the same shape and exactly the same values."""
    found, expected = np.asarray(found), np.asarray(expected)
    if found.shape != expected.shape:
        raise CheckFailed(f"{name} shape", tuple(expected.shape), tuple(found.shape), hint)
    differ = int(np.count_nonzero(found != expected))
    if differ:
        raise CheckFailed(
            f"{name} values: {differ} of {found.size} differ from the course's data",
            hint=hint or "where the data comes from",
        )
    return f"{name} exact"


def check_normalised(name: str, x) -> str:
    """Pass when values lie in [0, 1] and look like pixels divided by 255 (max above 0.5)."""
    x = np.asarray(x, dtype=np.float64)
    low, high = float(x.min()), float(x.max())
    if high > 1.0:
        hint = "divide the pixels by 255" if high <= 255.0 + 1e-3 else "the scaling of the pixels"
        raise CheckFailed(f"{name} values in [0, 1]", "max <= 1", f"max {high:.4g}", hint)
    if low < 0.0:
        raise CheckFailed(
            f"{name} values in [0, 1]",
            "min >= 0",
            f"min {low:.4g}",
            "scale pixels to [0, 1] by dividing by 255 (no centring)",
        )
    if high < 0.5:
        raise CheckFailed(
            f"{name} looks normalised", "max near 1", f"max {high:.4g}", "divide by 255 once (not twice, not by 255**2)"
        )
    return f"{name} in [0, 1]"


def check_labels(name: str, y, num_classes: int = 10) -> str:
    """Pass when labels are integers in 0..num_classes-1."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise CheckFailed(f"{name} dtype", "integers", y.dtype.name, "labels are class indices, not one-hot or float")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise CheckFailed(f"{name} values", f"0..{num_classes - 1}", f"{int(y.min())}..{int(y.max())}", "the labels")
    return f"{name} in 0..{num_classes - 1}"


def check_count(name: str, found: int, expected: int, hint: str | None = None) -> str:
    """Pass when a number of examples is the expected one."""
    if int(found) != int(expected):
        raise CheckFailed(f"{name} examples", int(expected), int(found), hint)
    return f"{name} {int(found)}"


def check_split_sizes(n_train: int, n_validation: int, n_total: int, validation_size: float) -> str:
    """Pass when train + validation == n_total and validation is validation_size of it (within one example)."""
    if n_train + n_validation != n_total:
        raise CheckFailed(
            "train + validation examples",
            n_total,
            f"{n_train} + {n_validation} = {n_train + n_validation}",
            "the split: every training image goes to exactly one of train and validation",
        )
    wanted = validation_size * n_total
    if abs(n_validation - wanted) > 1:
        raise CheckFailed(
            "validation examples",
            f"about {wanted:.0f} ({validation_size:g} of {n_total})",
            n_validation,
            "validation_size: the fraction of the training images held out",
        )
    return f"train {n_train} + validation {n_validation} = {n_total}"


def _row_keys(x, y) -> np.ndarray:
    """Sortable keys of the rows of x (as pixel values 0..255) joined with their labels."""
    pixels = np.rint(np.asarray(x, dtype=np.float64).reshape(len(x), -1) * 255.0)
    rows = np.concatenate([np.clip(pixels, -1, 256).astype(np.int16), np.asarray(y).reshape(-1, 1).astype(np.int16)], 1)
    rows = np.ascontiguousarray(rows)
    return np.sort(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel())


def check_same_examples(name: str, x, y, x_expected, y_expected, hint: str | None = None) -> str:
    """Pass when (x, y) holds the same (image, label) pairs as the expected ones, in any order.

    x holds pixels scaled to [0, 1]; they are compared as pixel values (x * 255, rounded).
    """
    if len(x) != len(x_expected):
        raise CheckFailed(f"{name} examples", len(x_expected), len(x), hint)
    scaled = np.asarray(x, dtype=np.float64) * 255.0
    if not np.allclose(scaled, np.rint(scaled), atol=1e-2):
        raise CheckFailed(
            f"{name} values are not pixel / 255", hint=hint or "scale by dividing by 255 and nothing else"
        )
    found, expected = _row_keys(x, y), _row_keys(x_expected, y_expected)
    differ = int(np.count_nonzero(found != expected))
    if differ:
        raise CheckFailed(
            f"{name}: about {differ} of {len(found)} (image, label) pairs are not the course's",
            hint=hint or "keep each image with its own label; use every image exactly once",
        )
    return f"{name} holds the right images and labels"


def check_reiterable(name: str, split, hint: str | None = None) -> str:
    """Pass when `split` starts a new pass over its batches at every `for` loop (a DataLoader, a
    tf.data.Dataset, a class with __iter__), not an iterator that one pass uses up (a generator)."""
    try:
        iterator = iter(split)
    except TypeError:
        raise CheckFailed(
            f"the {name} split", "batches to iterate over", type(split).__name__, hint or "what load_and_preprocess returns"
        ) from None
    if iterator is split:
        raise CheckFailed(
            f"the {name} split",
            "re-iterable batches: every for loop over it a new pass (one epoch)",
            f"a {type(split).__name__}, used up by one pass",
            hint or "return an object whose __iter__ starts a new pass, not a generator or an iterator",
        )
    return ""


def check_reshuffled(name: str, first_pass, second_pass) -> str:
    """Pass when two passes over the training batches come in different orders."""
    a, b = np.asarray(first_pass), np.asarray(second_pass)
    if a.shape == b.shape and np.array_equal(a, b):
        raise CheckFailed(
            f"{name} batches come in the same order every epoch",
            hint="shuffle the training split, anew on every pass (not the validation or test split)",
        )
    return f"{name} reshuffled each epoch"
