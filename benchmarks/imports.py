"""What each process of grading pays before it does any work: the CPU seconds of its imports, each in a fresh interpreter.

Every grading kernel imports its framework (and builds its first optimizer: PyTorch imports torch._dynamo there), and
every nbgrader command, grader and server imports nbformat (and with it jsonschema). Prints the median CPU seconds of
each import over --rounds fresh processes, and its ratio to an empty interpreter's start measured in the same run.

    .venv/bin/python benchmarks/imports.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

MEASURED = {
    "an empty interpreter (the baseline)": "pass",
    "nbformat (jsonschema)": "import nbformat",
    "ml_dtypes": "import ml_dtypes",
    "tensorflow": "import tensorflow",
    "torch": "import torch",
    "torch and a first optimizer": "import torch; torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)",
    "ipykernel's kernel app": "import ipykernel.kernelapp",
}
TIMED = "import resource\n{code}\nusage = resource.getrusage(resource.RUSAGE_SELF)\nprint(usage.ru_utime + usage.ru_stime)"


def cpu_seconds(code: str) -> float:
    """The CPU seconds (user and system) of a fresh interpreter that runs `code`, its start included."""
    done = subprocess.run([sys.executable, "-c", TIMED.format(code=code)], capture_output=True, text=True,
                          env={"TF_CPP_MIN_LOG_LEVEL": "3"}, check=True)
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    medians = {name: statistics.median(cpu_seconds(code) for _ in range(rounds)) for name, code in MEASURED.items()}
    baseline = medians["an empty interpreter (the baseline)"]
    print(f"CPU seconds of a fresh interpreter's imports (median of {rounds}), and the ratio to an empty one:")
    for name, seconds in medians.items():
        print(f"  {name:<38} {seconds:6.2f} s  {seconds / baseline:6.1f}x")


if __name__ == "__main__":
    main()
