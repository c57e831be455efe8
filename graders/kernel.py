"""Kept for kernels installed before the check stage moved: their kernel.json runs `graders.kernel.startup()`."""

from graders.check.kernel.startup import startup  # noqa: F401
