"""The class report on a generated class: its seconds for 300 submissions here, and how its similarity part grows.

    .venv/bin/python benchmarks/class_report.py [--students 300] [--scaling 150,300,600] [--worst 50,100,200] [--repeat 2]

A course in a temp folder gets `--students` graded submissions of torch_pipeline, made without a kernel by
tests/graded_class.py (autograded notebooks with their loss plots, a real nbgrader gradebook): the sample bank's
correct and broken submissions in turn, every fourth one code of its own (the bank's independent variants).
Then it prints:

* the wall seconds of ``python -m graders report torch_pipeline`` on it, as a TA runs it (a fresh process,
  imports included), best of `--repeat`;
* where an in-process run's seconds go: reading (gradebook, notebooks, loss plots), the figures, similarity,
  the page;
* the similarity part alone on classes of n, 2n, 4n students (the same mix, code only): seconds, the copydetect
  comparisons made, the flagged pairs, and each size's ratio to the previous (4 would be quadratic); then its worst
  case, where every student's text differs from every other's by a line and all are alike, so every pair is
  compared exactly: quadratic by construction, the constant is the figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the sample bank and the class generator

import graded_class as G  # noqa: E402

from graders.review import page, similarity, struggles  # noqa: E402
from graders.review.gather import GradedClass, Submission, read_class  # noqa: E402


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def command_seconds(course: Path, repeat: int) -> float:
    """Best wall seconds of the report command on `course`, in a fresh process each time."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "graders", "report", G.A, "--root", str(course)],
                              capture_output=True, text=True, cwd=REPO, env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"})
        best = min(best, time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"the report failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return best


def breakdown(course: Path) -> dict[str, float]:
    graded, read = timed(read_class, course, G.A)
    (figures, scale, curves), computed = timed(
        lambda: (struggles.step_figures(graded), struggles.results_scale(graded), struggles.class_curves(graded)))
    similar, compared = timed(similarity.find_similar, graded)
    _, rendered = timed(page.render, graded, figures, struggles.pipeline_groups(graded), scale, curves, similar,
                        similarity.Settings(), None)
    return {"reading": read, "figures": computed, "similarity": compared, "page": rendered}


def code_only_class(template: GradedClass, students: int, distinct: bool = False) -> GradedClass:
    """A class of `students` in memory, code only: what the similarity part reads. `distinct`: every cell ends in a
    line of its own (a constant no one else has), so no two texts are the same after normalisation and every pair
    of a step is compared: the worst case."""
    graded = GradedClass(template.course, template.assignment)
    graded.solution_kinds, graded.reference_code, graded.boilerplate = (
        template.solution_kinds, template.reference_code, template.boilerplate)
    for number, student in enumerate(G.generated_class(students)):
        code = {step: text + (f"\n\nSTUDENT_SALT = {number * 7919 + 104729}\n" if distinct else "")
                for step, text in student.fills.items()}
        graded.submissions[student.name] = Submission(student.name, code=code, read=True)
    return graded


def scaling(template: GradedClass, sizes: list[int], distinct: bool) -> None:
    previous = None
    for students in sizes:
        results, seconds = timed(similarity.find_similar, code_only_class(template, students, distinct))
        compared = sum(r.compared for r in results)
        pairs = sum(len(r.pairs) for r in results)
        ratio = f"; x{seconds / previous:.2f} the previous size's time" if previous else ""
        each = f" ({1e6 * seconds / max(compared, 1):.0f} µs each, fingerprinting included)" if distinct else ""
        print(f"  {students:5d} students: {seconds:6.2f} s, {compared} copydetect comparisons{each}, {pairs} flagged pairs{ratio}")
        previous = seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--scaling", default="150,300,600", help="class sizes for the similarity part alone")
    parser.add_argument("--worst", default="50,100,200", help="class sizes for its worst case")
    parser.add_argument("--repeat", type=int, default=2, help="runs of the command (the best counts)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="class-report-bench-") as folder:
        course, made = timed(G.graded_course, Path(folder) / "course", G.generated_class(args.students))
        print(f"generated class: {args.students} graded submissions of {G.A} in {made:.1f} s (not part of the report)")
        seconds = command_seconds(course, args.repeat)
        size = (course / "reports" / f"{G.A}.html").stat().st_size
        print(f"python -m graders report {G.A}: {seconds:.1f} s wall for {args.students} submissions "
              f"(best of {args.repeat}; page {size / 1e6:.1f} MB)")
        parts = breakdown(course)
        print("in-process: " + ", ".join(f"{name} {value:.1f} s" for name, value in parts.items())
              + f" (total {sum(parts.values()):.1f} s)")
        template = read_class(course, G.A)
    print("similarity alone, the same mix (code only; the same normalised text is compared once):")
    scaling(template, [int(n) for n in args.scaling.split(",")], distinct=False)
    print("similarity alone, the worst case (every text distinct, all alike: every pair of a step compared):")
    scaling(template, [int(n) for n in args.worst.split(",")], distinct=True)


if __name__ == "__main__":
    main()
