"""The reference figures that results cells are scored against, read from `references.json`.

`graders.author.figures` computes and writes them (the build refreshes them when stale);
this module only reads them, so it is all that a student's kernel needs.
"""

from __future__ import annotations

import json
from pathlib import Path

REFERENCES_PATH = Path(__file__).with_name("references.json")


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
