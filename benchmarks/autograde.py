"""Grade the same generated classes with stock `nbgrader autograde` and with ours, in one invocation.

    .venv/bin/python benchmarks/autograde.py [--students 12] [--assignment torch_pipeline] [--jobs N] [--classes mix correct]
    make bench

Two classes, each graded twice: `mix`, the sample bank's correct and broken submissions in turn, and
`correct`, correct submissions only (the reference and three other correct answers), where every
notebook runs to its end. For each, two course directories in a temp folder get the same
submissions (tests/submissions). Stock ``nbgrader autograde <a>`` grades one (as
a TA types it: one process, one notebook after another), our `autograde` the other (what
``python -m graders autograde <a>`` runs, default settings unless --jobs); both grade in the
same sandboxed kernel, with the course's config. Prints each one's wall seconds, the speed-up,
whether every score is identical, and where our time goes per notebook (medians): waiting for a
kernel, its start-up, the imports done before the notebook, the setup cell, the other cells,
and what the sandbox adds to a kernel's start (against the plain kernel, started alternately).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the sample bank

from submissions import new_course, samples  # noqa: E402

from graders.author import build  # noqa: E402
from graders.runner.batch import autograde  # noqa: E402
from graders.runner.gradebook import NBGRADER, Recorder  # noqa: E402
from graders.runner.placement import default_jobs, gpu_ids  # noqa: E402

CLASSES = {
    "mix": ("reference", "sequential_sgd", "functional_adam", "nine_classes", "no_optimizer_step", "unfilled"),
    "correct": ("reference", "sequential_sgd", "functional_adam", "cross_entropy_manual_batches"),
}


def make_course(root: Path, assignment: str, students: int, names: tuple[str, ...]) -> None:
    """A course directory with the assignment released and `students` submissions from the bank, `names` in turn."""
    build.release(assignment, course_root=new_course(root, assignment))
    bank = {sample.name: sample for sample in samples(assignment)}
    for number in range(students):
        sample = bank[names[number % len(names)]]
        path = sample.submit(root, assignment)
        target = root / "submitted" / f"student-{number:03d}"
        shutil.move(str(path.parent.parent), str(target))


def stock_seconds(course: Path, assignment: str) -> float:
    """Wall seconds of stock ``nbgrader autograde <assignment>`` in `course`."""
    start = time.perf_counter()
    done = subprocess.run([*NBGRADER, "autograde", assignment], cwd=course, env=build.nbgrader_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"nbgrader autograde failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return time.perf_counter() - start


def sandbox_seconds(rounds: int = 3) -> float:
    """Median seconds the sandbox adds to starting a kernel and running one empty cell."""
    from nbformat.v4 import new_code_cell, new_notebook
    from sandbox import compare  # benchmarks/sandbox.py

    plain, sandboxed = compare("kernel start", new_notebook(cells=[new_code_cell("pass")]), rounds)
    return sandboxed - plain


def grade_class(tmp: Path, label: str, args) -> bool:
    """Grade class `label` both ways in `tmp`; print the figures; whether the scores are identical and all graded."""
    stock, ours = tmp / label / "stock", tmp / label / "ours"
    for course in (stock, ours):
        make_course(course, args.assignment, args.students, CLASSES[label])
    print(f"class {label!r}: {args.students} submissions of {args.assignment} ({', '.join(CLASSES[label])} in turn), {os.cpu_count()} cores")
    stock_wall = stock_seconds(stock, args.assignment)
    print(f"  stock nbgrader autograde        {stock_wall:7.1f} s   {stock_wall / args.students:5.2f} s per notebook")
    start = time.perf_counter()
    outcomes = autograde(ours, args.assignment, jobs=args.jobs)
    ours_wall = time.perf_counter() - start
    jobs = args.jobs or default_jobs(len(gpu_ids()))
    print(f"  python -m graders autograde     {ours_wall:7.1f} s   {ours_wall / args.students:5.2f} s per notebook   ({jobs} jobs)")
    print(f"  speed-up {stock_wall / ours_wall:.2f}x")
    same = Recorder(stock).scores(args.assignment) == Recorder(ours).scores(args.assignment)
    print(f"  scores identical: {'yes' if same else 'NO'}")
    print("  our seconds per notebook (median):")
    for phase in outcomes[0].timings:
        print(f"    {phase:<12} {statistics.median(o.timings[phase] for o in outcomes):6.2f}")
    print(f"    {'whole job':<12} {statistics.median(o.seconds for o in outcomes):6.2f}")
    return same and all(o.graded for o in outcomes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--assignment", default="torch_pipeline")
    parser.add_argument("--jobs", type=int, default=None, help="our jobs (default: the command's own default)")
    parser.add_argument("--classes", nargs="+", choices=sorted(CLASSES), default=list(CLASSES))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="course-bench-") as tmp:
        os.environ["NBGRADER_EXCHANGE"] = str(Path(tmp) / "exchange")
        fine = [grade_class(Path(tmp), label, args) for label in args.classes]
        print(f"the sandbox adds {sandbox_seconds():+.2f} s to a kernel's start (median, against the plain kernel)")
        return 0 if all(fine) else 1


if __name__ == "__main__":
    raise SystemExit(main())
