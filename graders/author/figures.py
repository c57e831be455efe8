"""Compute the reference figures (`graders/check/trusted/references.json`) by training each reference pipeline.

`compute_references(dataset)` runs each framework's reference pipeline with the dataset's
hyperparameters (`solutions.pipeline.run`) and evaluates the trained model on the held-out
images (`graders.check.trusted.holdout.load_holdout`). The results cell of a notebook is scored against the
stored held-out accuracy; nothing is re-trained per submission. `write_references(datasets)`
refreshes the file (the build calls it when `stale_datasets()` names a dataset, among them one
whose held-out images were made another way: `graders.check.trusted.holdout.recipe`).
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
from pathlib import Path

import numpy as np

from graders.check.trusted.inputs import preprocess
from graders.check.trusted.references import REFERENCES_PATH, load_references

VERSIONED = ("tensorflow", "torch", "numpy")


def versions() -> dict[str, str]:
    """Versions of the libraries that shape the figures, and of Python."""
    found = {"python": platform.python_version()}
    for package in VERSIONED:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def holdout_accuracy(adapter, model, holdout) -> float:
    """Accuracy of a trained model (through its framework adapter) on held-out (x uint8, y uint8)."""
    x, y = holdout
    logits = adapter.predict(model, preprocess(x))
    return float(np.mean(np.argmax(logits, axis=1) == y))


def reference_run(framework: str, raw, hp, holdout) -> dict:
    """Train `framework`'s reference pipeline (`solutions.pipeline.run`); return its figures."""
    from graders.check.kernel import frameworks
    from solutions.pipeline import run

    adapter = frameworks.load(framework)
    adapter.seed(hp.seed)
    result = run(framework, raw, hp)
    figures = {
        "holdout_accuracy": round(holdout_accuracy(adapter, result.model, holdout), 6),
        "test_accuracy": round(result.test_accuracy, 6),
        "train_accuracy": round(result.train_accuracy, 6),
        "first_loss": round(result.losses[0], 6),
        "last_loss": round(result.losses[-1], 6),
        "steps": len(result.losses),
        "parameters": result.parameters,
    }
    adapter.close(result.model)
    return figures


def compute_references(dataset: str = "digits", frameworks=("tf1", "tf2", "torch")) -> dict:
    """The figures of every framework's reference run on `dataset` (trains each once)."""
    from dataclasses import asdict

    from course.data import load_dataset
    from course.pipeline import HYPERPARAMETERS
    from graders.check.trusted.holdout import load_holdout, recipe

    raw, holdout, hp = load_dataset(dataset), load_holdout(dataset), HYPERPARAMETERS[dataset]
    return {
        "dataset": dataset,
        "seed": hp.seed,
        "hyperparameters": asdict(hp),
        "sizes": {"train": len(raw.x_train), "test": len(raw.x_test), "holdout": len(holdout[0])},
        "holdout": recipe(),
        "versions": versions(),
        "frameworks": {framework: reference_run(framework, raw, hp, holdout) for framework in frameworks},
    }


def write_references(datasets=("digits",), path: str | Path = REFERENCES_PATH) -> Path:
    """Compute the figures of `datasets` and store them, keeping the other datasets' figures."""
    path = Path(path)
    stored = load_references(path)
    for dataset in datasets:
        stored[dataset] = compute_references(dataset)
    path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
    return path


def stale_datasets(datasets=("digits",), path: str | Path = REFERENCES_PATH) -> list[str]:
    """The datasets whose stored figures are missing or were made with other libraries, hyperparameters or held-out images."""
    from dataclasses import asdict

    from course.pipeline import HYPERPARAMETERS
    from graders.check.trusted.holdout import recipe

    stored = load_references(path)
    return [
        dataset
        for dataset in datasets
        if dataset not in stored
        or stored[dataset]["versions"] != versions()
        or stored[dataset]["hyperparameters"] != asdict(HYPERPARAMETERS[dataset])
        or stored[dataset].get("holdout") != recipe()
    ]


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m graders.author.figures", description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["digits"])
    args = parser.parse_args(argv)
    path = write_references(tuple(args.datasets))
    for dataset in args.datasets:
        for framework, figures in load_references(path)[dataset]["frameworks"].items():
            print(
                f"{dataset} {framework}: held-out {figures['holdout_accuracy']:.4f}, test {figures['test_accuracy']:.4f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
