"""Each framework's hints, in a module of its own: `for_framework("torch").TRAIN`. Framework-free: strings only."""

import importlib

from graders.check.shared.protocol import FRAMEWORKS


def for_framework(framework: str):
    """The hints module of 'tf1', 'tf2' or 'torch'."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; expected one of {', '.join(FRAMEWORKS)}")
    return importlib.import_module(f"graders.check.shared.hints.{framework}")
