"""`make test`'s time, against a baseline graded before and after it in the same invocation.

    .venv/bin/python benchmarks/suite.py [--rounds 1]

The suite is CPU-bound, and this machine's speed varies by up to half from one hour to the next, so its minutes
alone do not say whether a change made it heavier. The baseline is a small class of correct submissions (four of
`torch_pipeline`, two of `tf2_pipeline`: the kernels that run notebooks take two thirds of the suite's CPU) graded by
our runner with two jobs, before and after `make test`, after one untimed grading that warms the disk caches (on a
machine just started, the first grading takes half as long again). Prints the suite's wall seconds and how busy the
CPUs were, each baseline's seconds, the suite in baselines (both slow down together when the machine does, so runs
made at different hours compare better than their minutes do), and the 15-minute target in baselines at this hour's
speed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from autograde import CLASSES, REPO, make_course  # benchmarks/autograde.py

from graders.runner.batch import autograde

TARGET = 15 * 60  # seconds `make test` may take on 2 cores
BASELINE = {"torch_pipeline": (4, CLASSES["correct"]), "tf2_pipeline": (2, ("reference",))}


def baseline_seconds(tmp: Path) -> float:
    """Wall seconds of grading the baseline's classes with our runner, two jobs, in fresh course folders under `tmp`."""
    seconds = 0.0
    for assignment, (students, names) in BASELINE.items():
        course = Path(tempfile.mkdtemp(dir=tmp, prefix=f"{assignment}-")) / "course"
        make_course(course, assignment, students, names)
        start = time.perf_counter()
        outcomes = autograde(course, assignment, jobs=2)
        seconds += time.perf_counter() - start
        if not all(outcome.graded and outcome.message == "graded" for outcome in outcomes):
            raise SystemExit(f"the baseline's {assignment} class was not graded cleanly: {[o.message for o in outcomes]}")
    return seconds


def suite_seconds(log: Path) -> tuple[float, float, int]:
    """(wall seconds, fraction of the CPUs busy, exit status) of `make test`, its output in `log`; its environment
    without the baseline's exchange."""
    environment = {name: value for name, value in os.environ.items() if name != "NBGRADER_EXCHANGE"}
    psutil.cpu_percent()  # from here
    start = time.perf_counter()
    with open(log, "w") as output:
        done = subprocess.run(["make", "test"], cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT)
    return time.perf_counter() - start, psutil.cpu_percent() / 100, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="times to run make test, each between two baselines")
    rounds = parser.parse_args().rounds
    students = sum(count for count, _ in BASELINE.values())
    with tempfile.TemporaryDirectory(prefix="course-bench-suite-") as folder:
        tmp = Path(folder)
        os.environ["NBGRADER_EXCHANGE"] = str(tmp / "exchange")  # the baseline's own
        baseline_seconds(tmp)  # warms the caches: not timed
        before = baseline_seconds(tmp)
        print(f"baseline: {students} correct notebooks graded with 2 jobs ({', '.join(BASELINE)}), {os.cpu_count()} cores")
        print(f"  baseline        {before:7.1f} s")
        failed = False
        for number in range(1, rounds + 1):
            log = Path(tempfile.gettempdir()) / f"course-bench-suite-{number}.log"
            wall, busy, status = suite_seconds(log)
            after = baseline_seconds(tmp)
            speed = statistics.mean([before, after])
            print(f"  make test       {wall:7.1f} s   ({wall / 60:.1f} min, CPUs {busy:.0%} busy, exit {status}; output: {log})")
            print(f"  baseline        {after:7.1f} s")
            print(f"  make test = {wall / speed:.1f} baselines;", end=" ")
            print(f"the {TARGET // 60}-minute target = {TARGET / speed:.1f} baselines at this speed")
            failed, before = failed or status != 0, after
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
