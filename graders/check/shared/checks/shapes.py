"""Shapes, dtypes and model structure. `None` in an expected shape matches any size."""

from __future__ import annotations

import numpy as np

from graders.check.shared.checks.failures import CheckFailed, show


def shape_of(value) -> tuple:
    """The shape of an array, a tensor (static shapes may hold None) or a shape given as a sequence."""
    shape = getattr(value, "shape", value)
    if hasattr(shape, "as_list"):  # tf.TensorShape
        shape = shape.as_list() if shape.rank is not None else None
    if shape is None:
        return None
    return tuple(None if d is None else int(d) for d in shape)


def shape_matches(found: tuple | None, expected: tuple, none_is_any: bool = True) -> bool:
    if found is None or len(found) != len(expected):
        return False
    return all((e is None and none_is_any) or f == e for f, e in zip(found, expected))


def check_shape(name: str, value, expected: tuple, hint: str | None = None, *, none_is_any: bool = True) -> str:
    """Pass when `value`'s shape is `expected`; return 'name (shape)'.

    `None` in `expected` matches any size; with ``none_is_any=False`` it matches only `None`
    (a static shape that must leave the batch size open, like a TF1 placeholder's).
    """
    found = shape_of(value)
    if not shape_matches(found, tuple(expected), none_is_any):
        raise CheckFailed(f"{name} shape", tuple(expected), "unknown rank" if found is None else found, hint)
    return f"{name} {show(found)}"


def check_dtype(name: str, value, expected, hint: str | None = None) -> str:
    """Pass when `value` (array, tensor or dtype) has dtype `expected` (one dtype or a tuple of them)."""
    dtype = getattr(value, "dtype", value)
    found = _dtype_name(dtype)
    allowed = expected if isinstance(expected, tuple) else (expected,)
    names = [_dtype_name(d) for d in allowed]
    if found not in names:
        raise CheckFailed(f"{name} dtype", " or ".join(names), found, hint)
    return f"{name} {found}"


def _dtype_name(dtype) -> str:
    name = getattr(dtype, "name", None)  # numpy and tf dtypes
    if isinstance(name, str):
        return name
    text = str(dtype)  # torch.float32 -> float32
    return text.split(".")[-1] if text.startswith("torch.") else np.dtype(dtype).name


def check_finite(name: str, values, hint: str | None = None) -> str:
    """Pass when every value is finite (no NaN or inf)."""
    values = np.asarray(values, dtype=np.float64)
    bad = int(np.size(values) - np.isfinite(values).sum())
    if bad:
        raise CheckFailed(f"{name} has {bad} NaN or infinite value(s)", hint=hint or "the computation that produces it")
    return f"{name} finite"


def check_parameters(count: int, hint: str | None = None) -> str:
    """Pass when a model has at least one trainable parameter."""
    if not count or count <= 0:
        raise CheckFailed(
            "trainable parameters",
            "at least one",
            count,
            hint or "the layers: their weights must be trainable variables",
        )
    return f"{count:,} trainable parameters"


def check_varies(name: str, values, hint: str | None = None) -> str:
    """Pass when the rows of `values` are not all the same (the output depends on the input)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) > 1 and float(np.ptp(values, axis=0).max()) <= 1e-7:
        raise CheckFailed(
            f"{name}: every example gets the same output", hint=hint or "the forward pass: it must use the input"
        )
    return f"{name} depend on the input"
