"""``python -m graders``: a thin command line over the library.

Every subcommand is one entry of `COMMANDS` (name -> `Command`): a help line, a function
adding its arguments, and a function running it that returns an exit code. Heavy imports
happen inside the run functions, so ``python -m graders --help`` stays instant.

Exit codes: 0 success, 1 a tool failed (nbgrader, a check), 2 bad input (one line on
stderr: unknown assignment, broken exercise, bad arguments).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


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
    from graders import build

    exercises = args.exercises or build.EXERCISES
    names = args.assignments or build.assignments(exercises)
    for name in names:
        build.exercise_path(name, exercises)  # unknown assignment: BuildError before any work
    return names, {"exercises": exercises, "course_root": args.root or build.REPO}


def _run_build(args) -> int:
    from graders import build

    names, where = _selected(args)
    for name in names:
        print(build.display_path(build.build_source(name, **where)))
    return 0


def _add_release_arguments(parser: argparse.ArgumentParser) -> None:
    _add_assignment_arguments(parser)
    parser.add_argument("--no-build", action="store_true", help="release the existing source notebooks as they are")
    parser.add_argument("--no-db", action="store_true", help="do not record the assignment in gradebook.db")


def _run_release(args) -> int:
    from graders import build

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
    from graders.kernel import install_kernel

    print(install_kernel(prefix=args.prefix))
    return 0


# --------------------------------------------------------------------------------------------
# The commands. Add a subcommand with one entry here.

COMMANDS: dict[str, Command] = {
    "build": Command("render exercises/<a>.py into source/<a>/<a>.ipynb", _add_assignment_arguments, _run_build),
    "release": Command(
        "build, then nbgrader generate_assignment into release/<a>/<a>.ipynb", _add_release_arguments, _run_release
    ),
    "install-kernel": Command("install the tf-pytorch-course Jupyter kernel", _add_kernel_arguments, _run_install_kernel),
    # ---- owned elsewhere: add them below ---------------------------------------------------
    # "check":     Command("run a notebook's self-checks", <adds NOTEBOOK>, <runs it>),
    # "autograde": Command("nbgrader autograde an assignment", <adds ASSIGNMENT>, <runs it>),
    # ---- end of commands owned elsewhere ---------------------------------------------------
}


# --------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m graders", description="TensorFlow and PyTorch course tools")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.help, description=command.help))
    return top


def main(argv: list[str] | None = None) -> int:
    from graders.build import BuildError, ToolError

    top = parser()
    args = top.parse_args(argv)  # argparse itself exits 2 on bad arguments
    if args.command is None:
        top.print_help(sys.stderr)
        return 2
    try:
        return int(COMMANDS[args.command].run(args) or 0)
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (BuildError, UsageError) as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)
        return 2
