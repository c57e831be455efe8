"""What each process of grading pays before it does any work: the CPU seconds of its imports, each in a fresh interpreter.

Every grading kernel imports its framework (and builds its first optimizer: PyTorch imports torch._dynamo there), and
every nbgrader command, grader and server imports nbformat (and with it jsonschema). Prints the median CPU seconds of
each import over --rounds fresh processes with Python's garbage collector as it comes, and its ratio to an empty
interpreter's start measured in the same run; then the same import with the oldest generation's threshold that the
course kernels set (`graders.check.kernel.startup.OLDEST_GENERATION_THRESHOLD`), and the default's ratio to it.

    .venv/bin/python benchmarks/imports.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from graders.check.kernel.startup import OLDEST_GENERATION_THRESHOLD

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
COURSE_GC = f"import gc\ngc.set_threshold(*gc.get_threshold()[:2], {OLDEST_GENERATION_THRESHOLD})\n"


def cpu_seconds(code: str) -> float:
    """The CPU seconds (user and system) of a fresh interpreter that runs `code`, its start included."""
    done = subprocess.run([sys.executable, "-c", TIMED.format(code=code)], capture_output=True, text=True,
                          env={"TF_CPP_MIN_LOG_LEVEL": "3"}, check=True)
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    default, course = {}, {}
    for name, code in MEASURED.items():
        pairs = [(cpu_seconds(code), cpu_seconds(COURSE_GC + code)) for _ in range(rounds)]  # alternately
        default[name] = statistics.median(first for first, _ in pairs)
        course[name] = statistics.median(second for _, second in pairs)
    baseline = default["an empty interpreter (the baseline)"]
    print(f"CPU seconds of a fresh interpreter's imports (median of {rounds}): with Python's garbage collector as it comes")
    print(f"and its ratio to an empty interpreter; with the course kernels' (the oldest generation after {OLDEST_GENERATION_THRESHOLD}")
    print("collections of the middle one) and the default's ratio to it:")
    for name in MEASURED:
        print(f"  {name:<38} {default[name]:6.2f} s {default[name] / baseline:6.1f}x"
              f"   course kernel {course[name]:6.2f} s {default[name] / course[name]:6.2f}x")


if __name__ == "__main__":
    main()
