"""`python -m graders check NOTEBOOK`: run a notebook and report each graded step, as autograde would.

The notebook runs top to bottom in the course kernel, errors allowed, and every autograded
test cell is scored with nbgrader's own rule (`nbgrader.utils.determine_grade`): an error or
anything on stderr scores 0, a number as the cell's value is partial credit, else full marks.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader import utils
from traitlets.config import Config

KERNEL = "tf-pytorch-course"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class StepReport:
    """One autograded test cell: its grade id, points earned and available, and what it said."""

    grade_id: str
    score: float
    max_score: float
    message: str

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


def cell_message(cell) -> str:
    """What a test cell said: the error's last line, else its stderr, else its stdout."""
    errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
    stderr = [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
    stdout = [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]
    return ANSI.sub("", "\n".join(stderr + errors or stdout)).strip()


def check_notebook(path: str | Path, *, timeout: int = 600, kernel_name: str = KERNEL) -> list[StepReport]:
    """Execute the notebook at `path` (the file is not changed) and score its autograded test cells."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="course-check-") as sockets:
        config = Config()
        if os.name == "posix":  # IPC sockets: no TCP port, and no warning from the kernel that TCP is unencrypted
            config.KernelManager.transport, config.KernelManager.ip = "ipc", os.path.join(sockets, "kernel")
        client = NotebookClient(
            notebook, config=config, timeout=timeout, kernel_name=kernel_name, allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    reports = []
    for cell in notebook.cells:
        if utils.is_grade(cell) and cell.cell_type == "code" and not utils.is_solution(cell):
            score, max_score = utils.determine_grade(cell)
            reports.append(StepReport(cell.metadata.nbgrader["grade_id"], score, max_score, cell_message(cell)))
    return reports


def format_reports(reports: list[StepReport]) -> str:
    """A terminal table: one line per step, then what each failed step said, then the total."""
    lines = []
    for r in reports:
        mark = "✓" if r.passed else "✗"
        lines.append(f"{mark} {r.grade_id:<32} {r.score:g} / {r.max_score:g}")
        if not r.passed and r.message:
            lines.extend("    " + line for line in r.message.splitlines())
    earned, available = sum(r.score for r in reports), sum(r.max_score for r in reports)
    lines.append(f"total: {earned:g} / {available:g} points from autograded tests (written answers are graded by staff)")
    return "\n".join(lines)
