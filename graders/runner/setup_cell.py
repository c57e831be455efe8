"""The setup cell rule: a notebook's setup cell that fails on an import is the grading environment's fault.

Stock ``nbgrader autograde`` and formgrader's button grade one submission at a time and cannot run the canary
(`graders.runner.canary`) first. There `refuse_failed_setup` (called by `graders.runner.execute.SandboxedExecute`
after each cell) raises `SetupFailed` when the notebook's setup cell fails on an import: nbgrader then logs the
error, deletes the partial autograded folder and records no score for that submission, instead of 0.
"""

from __future__ import annotations

import os

from nbformat import NotebookNode

from graders.runner.errors import SetupFailed

IMPORT_ERRORS = ("ModuleNotFoundError", "ImportError")
MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")
PACKAGE_MARKS = ("__init__.py", "__init__.pyc")


def first_line(text: str) -> str:
    """The first line of `text` that is not blank, stripped."""
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def setup_index(notebook: NotebookNode) -> int | None:
    """The index of the notebook's setup cell: its first code cell, when that is locked and neither graded nor
    an answer (the course's own imports, identical for every student)."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            nbgrader = cell.get("metadata", {}).get("nbgrader", {})
            plain = nbgrader.get("locked") and not nbgrader.get("grade") and not nbgrader.get("solution")
            return index if plain else None
    return None


def refuse_failed_setup(notebook: NotebookNode, index: int, reply: dict, folder: str | None = None) -> None:
    """SetupFailed when cell `index` of `notebook`, just run with execute `reply`, is its setup cell and failed on
    an import. The setup cell imports only the course's packages, the frameworks and the standard library, and
    runs before any student code: an import failing there is the grading environment's fault, unless the
    submission's working `folder` holds a module of its own, which can stand where an import looks first (a
    submitted torch.py). Then the failure is the submission's, and it scores what it earned."""
    content = reply.get("content", {})
    if content.get("status") != "error" or content.get("ename") not in IMPORT_ERRORS or index != setup_index(notebook):
        return
    if folder is not None and submitted_modules(folder):
        return
    error = ": ".join(filter(None, (content["ename"], first_line(content.get("evalue", "")))))
    raise SetupFailed(f"the setup cell failed ({error})", "nothing was recorded for this submission")


def submitted_modules(folder: str) -> list[str]:
    """What Python could import from the working `folder` (first on a kernel's path): modules, extensions, packages."""
    listing = []
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            listing += [f"{entry.name}/{name}" for name in PACKAGE_MARKS if os.path.isfile(os.path.join(entry.path, name))]
        else:
            listing.append(entry.name)
    return importable(listing)


def importable(paths) -> list[str]:
    """Which of `paths` (relative to a working folder, "/"-separated) Python could import from there: modules,
    extensions, packages (by their top-level name, as listed)."""
    found = set()
    for path in paths:
        parts = path.split("/")
        if len(parts) == 1 and parts[0].endswith(MODULE_SUFFIXES):
            found.add(parts[0])
        elif len(parts) == 2 and parts[1] in PACKAGE_MARKS:
            found.add(parts[0])
    return sorted(found)
