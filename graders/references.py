"""Reference figures per dataset and framework, computed once and stored in `references.json`.

`compute_references(dataset)` runs each framework's reference pipeline with the dataset's
hyperparameters (the same steps, in the same order, as `solutions.pipeline.run`) and then
evaluates the trained model on the held-out images (`solutions.data.load_holdout`). The
results cell of a notebook is scored against the stored held-out accuracy; nothing is
re-trained per submission. `write_references(datasets)` refreshes the file (the build CLI
calls it); `load_references()` and `reference_figures(dataset, framework)` read it.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
from pathlib import Path

import numpy as np

REFERENCES_PATH = Path(__file__).with_name("references.json")
VERSIONED = ("tensorflow", "torch", "numpy", "scikit-learn")


def versions() -> dict[str, str]:
    """Versions of the libraries that shape the figures, and of Python."""
    found = {"python": platform.python_version()}
    for package in VERSIONED:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W) as the pipelines feed them: float32 (N, H*W) in [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


def holdout_accuracy(adapter, model, holdout) -> float:
    """Accuracy of a trained model (through its framework adapter) on held-out (x uint8, y uint8)."""
    x, y = holdout
    logits = adapter.predict(model, preprocess(x))
    return float(np.mean(np.argmax(logits, axis=1) == y))


def reference_run(framework: str, raw, hp, holdout) -> dict:
    """Train `framework`'s reference pipeline (`solutions.pipeline.run`); return its figures."""
    from graders import frameworks
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

    from solutions.data import load_dataset, load_holdout
    from solutions.pipeline import HYPERPARAMETERS

    raw, holdout, hp = load_dataset(dataset), load_holdout(dataset), HYPERPARAMETERS[dataset]
    return {
        "dataset": dataset,
        "seed": hp.seed,
        "hyperparameters": asdict(hp),
        "sizes": {"train": len(raw.x_train), "test": len(raw.x_test), "holdout": len(holdout[0])},
        "versions": versions(),
        "frameworks": {framework: reference_run(framework, raw, hp, holdout) for framework in frameworks},
    }


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
            f"run graders.references.write_references(({dataset!r},)) to compute them"
        ) from None


def write_references(datasets=("digits",), path: str | Path = REFERENCES_PATH) -> Path:
    """Compute the figures of `datasets` and store them, keeping the other datasets' figures."""
    path = Path(path)
    stored = load_references(path)
    for dataset in datasets:
        stored[dataset] = compute_references(dataset)
    path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
    return path


def stale_datasets(datasets=("digits",), path: str | Path = REFERENCES_PATH) -> list[str]:
    """The datasets whose stored figures are missing or were made with other libraries or hyperparameters."""
    from dataclasses import asdict

    from solutions.pipeline import HYPERPARAMETERS

    stored = load_references(path)
    return [
        dataset
        for dataset in datasets
        if dataset not in stored
        or stored[dataset]["versions"] != versions()
        or stored[dataset]["hyperparameters"] != asdict(HYPERPARAMETERS[dataset])
    ]


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m graders.references", description=__doc__.splitlines()[0])
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
