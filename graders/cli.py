"""``python -m graders``: a thin command line over the library.

Every subcommand is one entry of `COMMANDS` (name -> `Command`): a help line, a function
adding its arguments, and a function running it that returns an exit code. Heavy imports
happen inside the run functions, so ``python -m graders --help`` stays instant.

Exit codes: 0 success, 1 a tool failed (nbgrader, a check), 2 bad input (one line on
stderr: unknown assignment, broken exercise, bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


# --------------------------------------------------------------------------------------------
# build / release


def _add_assignment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every exercises/*.py")
    parser.add_argument("--exercises", type=Path, default=None, help="exercise folder (default: exercises/)")
    parser.add_argument("--root", type=Path, default=None, help="course directory (default: the repository)")


def _selected(args) -> tuple[list[str], dict]:
    from graders.author import build

    exercises = args.exercises or build.EXERCISES
    names = args.assignments or build.assignments(exercises)
    for name in names:
        build.exercise_path(name, exercises)  # unknown assignment: BuildError before any work
    return names, {"exercises": exercises, "course_root": args.root or build.REPO}


def _run_build(args) -> int:
    from graders.author import build, figures

    names, where = _selected(args)
    for name in names:
        print(build.display_path(build.build_source(name, **where)))
    if stale := figures.stale_datasets():  # the results cells are scored against these figures
        print(f"reference figures for {', '.join(stale)}: {figures.write_references(tuple(stale))}")
    return 0


def _add_release_arguments(parser: argparse.ArgumentParser) -> None:
    _add_assignment_arguments(parser)
    parser.add_argument("--no-build", action="store_true", help="release the existing source notebooks as they are")
    parser.add_argument("--no-db", action="store_true", help="do not record the assignment in gradebook.db")


def _run_release(args) -> int:
    from graders.author import build

    names, where = _selected(args)
    if not args.no_build:
        for name in names:
            build.build_source(name, **where)
    db = not args.no_db
    if not args.assignments:  # everything: one nbgrader run when possible
        released = build.release_all(**where, db=db)
    else:
        released = [build.release(name, course_root=where["course_root"], db=db) for name in names]
    for path in released:
        print(build.display_path(path))
    return 0


# --------------------------------------------------------------------------------------------
# install-kernel


def _add_kernel_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", default=None, help="install under PREFIX/share/jupyter/kernels (default: sys.prefix)")


def _run_install_kernel(args) -> int:
    from graders.check.kernel.startup import install_kernel

    print(install_kernel(prefix=args.prefix))
    return 0


# --------------------------------------------------------------------------------------------
# check (students), autograde / feedback / export (teaching staff)


def _add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="the .ipynb to check (it is not modified)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may run (default 600)")


def _run_check(args) -> int:
    from graders.report import check_notebook, format_reports

    if not args.notebook.is_file():
        raise UsageError(f"{args.notebook}: no such notebook")
    reports = check_notebook(args.notebook, timeout=args.timeout)
    print(format_reports(reports))
    return 0 if all(r.passed for r in reports) else 1


def _add_autograde_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--student", dest="students", action="append", help="grade only this student (repeatable)")
    parser.add_argument(
        "--jobs", type=int, default=None, help="submissions graded at once (default: one per core, and at least one per GPU)"
    )
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786) to grade on a cluster")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds one submitted notebook may run (default: COURSE_SUBMISSION_TIMEOUT)"
    )
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="grade even where the grading sandbox cannot run (student code then runs with your rights)",
    )
    parser.add_argument("--root", type=Path, default=None, help="course directory (default: the repository)")


def _course_root(args) -> Path:
    from graders.author import build

    return (args.root or build.REPO).resolve()


@contextlib.contextmanager
def _progress_bar(what: str):
    """A live bar on stderr while a class is graded: done/total, submissions not graded so far, time left.
    Yields the `progress(outcome, total)` callback of `graders.runner.batch.autograde`; the bar shows
    from its first call, once the batch starts (not for a batch that cannot start)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(what), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]} not graded"))
    with contextlib.ExitStack() as shown:
        bar, task, failed = None, None, 0

        def progress(outcome, total: int) -> None:
            nonlocal bar, task, failed
            if bar is None:
                bar = shown.enter_context(Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True)))
                task = bar.add_task(what, total=total, failed=0)
            if outcome is not None:
                failed += not outcome.graded
                bar.update(task, advance=1, failed=failed)

        yield progress


def _run_autograde(args) -> int:
    from graders.runner.batch import autograde
    from graders.runner.errors import EnvironmentBroken
    from graders.runner.gradebook import GradebookUnavailable, Recorder, display_url
    from graders.runner.sandbox import SandboxUnavailable

    root = _course_root(args)
    if not (root / "source" / args.assignment).is_dir():
        raise UsageError(f"no assignment {args.assignment!r} in {root / 'source'}")
    try:
        with _progress_bar(f"grading {args.assignment}") as progress:
            outcomes = autograde(
                root, args.assignment, args.students, jobs=args.jobs, scheduler=args.scheduler, timeout=args.timeout,
                unsafe_no_sandbox=args.unsafe_no_sandbox, progress=progress,
            )
    except (SandboxUnavailable, GradebookUnavailable, EnvironmentBroken) as error:  # nothing was graded
        raise UsageError(str(error)) from None
    recorder = Recorder(root)
    table = recorder.scores(args.assignment)
    for outcome in outcomes:
        cells = table.get(outcome.student, {})
        earned, available = sum(s for s, _ in cells.values()), sum(m for _, m in cells.values())
        status = outcome.message if outcome.graded else f"NOT GRADED: {outcome.message}"
        print(f"{outcome.student:<24} {earned:>6g} / {available:<6g} {outcome.seconds:6.1f} s  {status}")
    gradebook = display_url(recorder.coursedir.db_url)
    print(f"{sum(o.graded for o in outcomes)} of {len(outcomes)} submissions graded into {gradebook}")
    return 0 if all(o.graded for o in outcomes) else 1


def _add_feedback_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--root", type=Path, default=None, help="course directory (default: the repository)")


def _run_feedback(args) -> int:
    from graders.runner.gradebook import generate_feedback

    done = generate_feedback(_course_root(args), args.assignment)
    print(done.stdout + done.stderr if done.returncode else f"feedback written under {_course_root(args) / 'feedback'}")
    return 0 if done.returncode == 0 else 1


def _add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv", type=Path, metavar="CSV", help="where to write the grades")
    parser.add_argument("--root", type=Path, default=None, help="course directory (default: the repository)")


def _run_export(args) -> int:
    from graders.runner.gradebook import export_grades

    done = export_grades(_course_root(args), args.csv)
    print(done.stdout + done.stderr if done.returncode else f"grades written to {args.csv}")
    return 0 if done.returncode == 0 else 1


def _add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "assignments", nargs="*", metavar="ASSIGNMENT",
        help="grade these assignments' reference answers in the grading kernel (default: every one in source/)",
    )
    parser.add_argument("--root", type=Path, default=None, help="course directory (default: the repository)")


def _run_doctor(args) -> int:
    from graders.runner.doctor import diagnose, ready, report

    root = _course_root(args)
    for assignment in args.assignments:
        if not (root / "source" / assignment).is_dir():
            raise UsageError(f"no assignment {assignment!r} in {root / 'source'}")
    findings = diagnose(root, args.assignments or None)
    print(report(findings))
    return 0 if ready(findings) else 1


def _add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--against", type=Path, default=None, metavar="DIR",
                        help="earlier terms' submissions (notebooks anywhere under DIR) to compare each student with")
    parser.add_argument("--csv", type=Path, default=None, metavar="FILE", help="also write the similar pairs here, one row per pair and step")
    parser.add_argument("--threshold", type=float, default=None,
                        help="share of either side's code a match must cover to be listed (default 0.75)")
    parser.add_argument("--root", type=Path, default=None, help="course directory (default: the repository)")


def _run_report(args) -> int:
    from graders.review import write_report
    from graders.review.similarity import Settings

    root = _course_root(args)
    if not (root / "source" / args.assignment).is_dir() and not any((root / "autograded").glob(f"*/{args.assignment}")):
        raise UsageError(f"no assignment {args.assignment!r} in {root / 'source'}")
    if args.against is not None and not args.against.is_dir():
        raise UsageError(f"--against {args.against}: no such folder")
    if args.threshold is not None and not 0 < args.threshold <= 1:
        raise UsageError(f"--threshold {args.threshold}: a share, more than 0 and at most 1")
    settings = Settings() if args.threshold is None else Settings(threshold=args.threshold)
    done = write_report(root, args.assignment, against=args.against, csv=args.csv, settings=settings)
    print("\n".join(done.lines))
    if done.csv is not None:
        print(f"similar pairs for a spreadsheet: {done.csv}")
    print(f"class report: {done.page}")
    return 0


# --------------------------------------------------------------------------------------------
# student-wheel (teaching staff)


def _add_student_wheel_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dist", type=Path, default=Path("dist"), help="where to write the wheel (default: dist/)")


def _run_student_wheel(args) -> int:
    from graders.author.student import build_wheel

    print(build_wheel(args.dist))
    return 0


# --------------------------------------------------------------------------------------------
# The commands. Add a subcommand with one entry here.

COMMANDS: dict[str, Command] = {
    "build": Command("render exercises/<a>.py into source/<a>/<a>.ipynb", _add_assignment_arguments, _run_build),
    "release": Command(
        "build, then nbgrader generate_assignment into release/<a>/<a>.ipynb", _add_release_arguments, _run_release
    ),
    "install-kernel": Command("install the tf-pytorch-course Jupyter kernel", _add_kernel_arguments, _run_install_kernel),
    "check": Command("run a notebook and report each graded step, as autograde would", _add_check_arguments, _run_check),
    "autograde": Command(
        "nbgrader autograde every submission of an assignment, in parallel", _add_autograde_arguments, _run_autograde
    ),
    "feedback": Command("nbgrader generate_feedback: an HTML report per student", _add_feedback_arguments, _run_feedback),
    "export": Command("nbgrader export: every grade into a CSV file", _add_export_arguments, _run_export),
    "report": Command(
        "after grading, reports/<a>.html: where the class struggles, and similar submissions", _add_report_arguments, _run_report
    ),
    "doctor": Command(
        "say whether grading can run here: frameworks, devices, sandbox, limits, gradebook, kernel", _add_doctor_arguments,
        _run_doctor,
    ),
    "student-wheel": Command(
        "build the students' install (course/ and the self-checks, no solutions/) as a wheel",
        _add_student_wheel_arguments,
        _run_student_wheel,
    ),
}
# What the students' install (graders.author.student) runs; every other command needs the staff's checkout.
STUDENT_COMMANDS = ("check", "install-kernel")


# --------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m graders", description="TensorFlow and PyTorch course tools")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.help, description=command.help))
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)  # argparse itself exits 2 on bad arguments
    if args.command is None:
        top.print_help(sys.stderr)
        return 2
    if importlib.util.find_spec("graders.author") is None:  # the students' install
        if args.command not in STUDENT_COMMANDS:
            print(f"error: `python -m graders {args.command}` is for teaching staff: it is not part of the student install",
                  file=sys.stderr)
            return 2
        tool_errors, input_errors = (), (UsageError,)
    else:
        from graders.author.build import BuildError, ToolError

        tool_errors, input_errors = (ToolError,), (BuildError, UsageError)
    try:
        return int(COMMANDS[args.command].run(args) or 0)
    except tool_errors as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except input_errors as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)
        return 2
