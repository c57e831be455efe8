"""Time the three reference pipelines on the same data, in one process.

    .venv/bin/python benchmarks/pipelines.py [--dataset digits|mnist-split]

Prints wall and CPU seconds per framework and each one's ratio to the fastest, so
figures from different machines compare. `mnist-split` is the real MNIST test set in
../shared/data/mnist, split 8,000 train / 2,000 test.
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from course.data import load_dataset, read_idx, split_arrays  # noqa: E402
from course.pipeline import HYPERPARAMETERS  # noqa: E402
from solutions.pipeline import FRAMEWORKS, run  # noqa: E402

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared/data/mnist"


def load(dataset: str):
    if dataset == "digits":
        return load_dataset("digits"), HYPERPARAMETERS["digits"]
    x = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
    y = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    return split_arrays(x, y, n_test=2000, seed=0), HYPERPARAMETERS["mnist"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["digits", "mnist-split"], default="digits")
    args = parser.parse_args()
    raw, hp = load(args.dataset)
    rows = []
    for framework in FRAMEWORKS:
        run(framework, raw, hp)  # warm-up: imports, first tracing, allocator
        wall, cpu = time.perf_counter(), time.process_time()
        result = run(framework, raw, hp)
        rows.append((framework, time.perf_counter() - wall, time.process_time() - cpu, result.test_accuracy))
    fastest = min(row[1] for row in rows)
    print(f"{args.dataset}: {len(raw.x_train)} train / {len(raw.x_test)} test, {hp}")
    print(f"{'framework':<10}{'wall s':>8}{'cpu s':>8}{'x fastest':>11}{'test acc':>10}")
    for framework, wall, cpu, accuracy in rows:
        print(f"{framework:<10}{wall:>8.2f}{cpu:>8.2f}{wall / fastest:>11.2f}{accuracy:>10.4f}")


if __name__ == "__main__":
    main()
