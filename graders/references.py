"""The reference figures that results cells are scored against, read from `references.json`.

`graders.author.figures` computes and writes them (the build refreshes them when stale);
this module only reads them, so it is all that a student's kernel needs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

REFERENCES_PATH = Path(__file__).with_name("references.json")


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W) as the pipelines feed them: float32 (N, H*W) in [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


def load_references(path: str | Path = REFERENCES_PATH) -> dict:
    """All stored figures: {dataset: {..., 'frameworks': {framework: {...}}}} (empty if no file)."""
    path = Path(path)
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def reference_figures(dataset: str, framework: str, path: str | Path = REFERENCES_PATH) -> dict:
    """The stored figures of one framework on one dataset; LookupError with the fix if absent."""
    try:
        return load_references(path)[dataset]["frameworks"][framework]
    except KeyError:
        raise LookupError(
            f"no reference figures for {framework} on {dataset} in {Path(path).name}; "
            f"run `python -m graders build` to compute them"
        ) from None
