"""Grade the same generated class with stock `nbgrader autograde` and with ours, in one invocation.

    .venv/bin/python benchmarks/autograde.py [--students 12] [--assignment torch_pipeline] [--jobs N]

Two course directories in a temp folder get the same submissions: the sample bank's correct
and broken ones in turn (tests/submissions). Stock ``nbgrader autograde <a>`` grades one (as
a TA types it: one process, one notebook after another), ``python -m graders autograde <a>``
the other (default settings unless --jobs); both grade in the same sandboxed kernel. Prints
each one's wall seconds, the speed-up, whether every score is identical, and where our time
goes per notebook: start-up (sandbox, kernel, warm imports), the setup cell, the other cells.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the sample bank

from graders.author import build  # noqa: E402
from graders.runner.gradebook import NBGRADER, Recorder  # noqa: E402
from submissions import samples  # noqa: E402

MIX = ("reference", "sequential_sgd", "functional_adam", "nine_classes", "no_optimizer_step", "unfilled")


def make_course(root: Path, assignment: str, students: int) -> None:
    """A course directory with the assignment released and `students` submissions from the bank."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    for folder in ("source", "release"):
        shutil.copytree(REPO / folder / assignment, root / folder / assignment)
    build.release(assignment, course_root=root)
    bank = {sample.name: sample for sample in samples(assignment)}
    for number in range(students):
        sample = bank[MIX[number % len(MIX)]]
        path = sample.submit(root, assignment)
        target = root / "submitted" / f"student-{number:03d}"
        shutil.move(str(path.parent.parent), str(target))


def timed(command: list[str], course: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=course, env=build.nbgrader_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:4])} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--assignment", default="torch_pipeline")
    parser.add_argument("--jobs", type=int, default=None, help="our jobs (default: the command's own default)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="course-bench-") as tmp:
        os.environ["NBGRADER_EXCHANGE"] = str(Path(tmp) / "exchange")
        stock, ours = Path(tmp) / "stock", Path(tmp) / "ours"
        for course in (stock, ours):
            make_course(course, args.assignment, args.students)
        print(f"{args.students} submissions of {args.assignment}, {os.cpu_count()} cores")
        stock_seconds = timed([*NBGRADER, "autograde", args.assignment], stock)
        print(f"stock nbgrader autograde          {stock_seconds:7.1f} s")
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []
        command = [sys.executable, "-m", "graders", "autograde", args.assignment, "--root", str(ours), *jobs]
        ours_seconds = timed(command, ours)
        print(f"python -m graders autograde{' ' + ' '.join(jobs) if jobs else '':<7} {ours_seconds:7.1f} s")
        print(f"speed-up {stock_seconds / ours_seconds:.2f}x")
        same = Recorder(stock).scores(args.assignment) == Recorder(ours).scores(args.assignment)
        print(f"scores identical: {'yes' if same else 'NO'}")
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
