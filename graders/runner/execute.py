"""`SandboxedExecute`: nbgrader's Execute preprocessor, keeping what a submission earned when its kernel ends early.

Stock nbgrader discards a whole submission when its kernel dies. Here the cells that completed
keep their outputs, so their points; the cell that was running gets an error output saying why
the kernel ended (a limit of the sandbox, or the kernel's own death), and every later code cell
an error output saying it did not run, so that no test cell passes without running:

    SubmissionLimitExceeded: memory limit (4 GiB) exceeded in cell train_tests
    SubmissionLimitExceeded: not run: memory limit (4 GiB) exceeded in cell train_tests

It also caps what the kernel sends (`output_limit`): every byte of every message counts, comm
messages included, and a message over the cap is refused unread (`graders.runner.wire.MeteredClient`),
so a submission that floods its output is stopped like one that exceeds memory, before the grader's
own memory fills up. A message the grader cannot read (a status without its state, say) ends the
kernel too, as the submission's failure:

    KernelProtocolError: the kernel sent a message the grader cannot read (a 'status' message without
    execution_state as str) in cell report

`stopped_notes(notebook)` reads those lines back (and the cells stopped by the per-cell
timeout) for the batch runner's report.
"""

from __future__ import annotations

import contextlib
import os
import signal

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_hook, run_sync
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade
from traitlets import Integer

from graders.runner.errors import DIED_ERROR, LIMIT_ERROR, PROTOCOL_ERROR, TIMEOUT_ERROR
from graders.runner.sandbox import MiB, format_size
from graders.runner.setup_cell import refuse_failed_setup
from graders.runner.verdict import HiddenCall, judge_cell, pipeline_kit
from graders.runner.wire import MeteredClient


def cell_name(cell: NotebookNode, index: int) -> str:
    """The grade id of a graded or solution cell, else its position ('number 12')."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return grade_id or f"number {index + 1}"


class SandboxedExecute(Execute):
    """Execute that survives the kernel's end: completed cells keep their points, the rest score 0."""

    output_limit = Integer(16 * MiB, config=True, help="bytes of output one notebook may produce")

    def preprocess(self, nb, resources=None, km=None):
        self._ended: str | None = None  # why the kernel ended, once it has
        self._ename = LIMIT_ERROR  # the error name of that reason: a limit, or the kernel's own death
        self._stopped_for: str | None = None  # the limit this preprocessor stopped the kernel for
        self._unreadable_message: str | None = None  # what made a message the kernel sent unreadable, if one was
        self._output_bytes = 0
        self._verdicts: dict[str, bool] = {}  # step -> whether the grader passed its hidden test
        self._checks: tuple[str, str | None] | None = None  # (kind, dataset) of the notebook's hidden tests
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._ended:
            cell.outputs = [_error(self._ename, f"not run: {self._ended}")]
            return cell, resources
        getattr(self.km.provisioner, "start_clock", lambda: None)()
        try:
            self._execute(cell, resources, index)
            if not (limit := self._limit_exceeded()):
                return cell, resources
            self._stop(limit)  # a cap was hit (a fork failed at the task cap) but the kernel lives on
        except DeadKernelError:
            limit = self._limit_exceeded()
        except CellTimeoutError:  # still busy after the per-cell timeout's interrupt: it ignored the interrupt
            self._stop(f"per-cell time limit ({self.timeout} s)")
            limit = self._limit_exceeded()
        where = f"in cell {cell_name(cell, index)}"
        if self._unreadable_message:
            unreadable = f"the kernel sent a message the grader cannot read ({self._unreadable_message})"
            self._ename, self._ended = PROTOCOL_ERROR, f"{unreadable} {where}"
        elif limit:
            self._ename, self._ended = LIMIT_ERROR, f"{limit} exceeded {where}"
        else:
            self._ename, self._ended = DIED_ERROR, f"the kernel died {where}{self._exit_status()}"
        cell.outputs.append(_error(self._ename, self._ended))
        return cell, resources

    def _execute(self, cell, resources, index) -> None:
        """Run `cell` in the kernel; a hidden test cell is decided here instead (`graders.runner.verdict`), its probe
        run aside from the notebook's cells, so that nothing the kernel sends is ever shown in the graded cell."""
        call = HiddenCall.parse(cell.source) if is_grade(cell) else None
        if call is None:
            with self._kit_beside(cell, resources):
                super().preprocess_cell(cell, resources, index)
            return
        self._checks = (call.kind, call.dataset)
        working_folder = getattr(self.km.provisioner, "working_folder", None)  # the kernel's own (SandboxProvisioner)
        self._verdicts[call.step] = judge_cell(self._run_aside(resources), call, cell, index, resources | {"working_folder": working_folder})

    def _run_aside(self, resources):
        """A function that runs a cell in the kernel as an extra cell after the notebook's last, then removes it and
        every display that points into it (`update_display_data` finds its outputs by cell index)."""

        def run(extra) -> None:
            self.nb.cells.append(extra)
            aside = len(self.nb.cells) - 1
            try:
                super(SandboxedExecute, self).preprocess_cell(extra, resources, aside)
            finally:
                del self.nb.cells[aside:]
                for places in self._display_id_map.values():
                    places.pop(aside, None)

        return run

    def _kit_beside(self, cell, resources):
        """The grader's kit beside the whole-pipeline cell (`verdict.pipeline_kit`), for its explanation if it stops."""
        if ".guard(" not in cell.source or self._checks is None:
            return contextlib.nullcontext()
        folder = getattr(self.km.provisioner, "working_folder", None) or resources.get("metadata", {}).get("path") or os.getcwd()
        return pipeline_kit(folder, *self._checks, dict(self._verdicts))

    # -- what the kernel sends --------------------------------------------------------------------
    async def async_start_new_kernel_client(self):
        """nbclient's, with the grader's client (`graders.runner.wire.MeteredClient`): every message the kernel sends
        counts against `output_limit` before it is decoded, and one the grader cannot read ends the kernel."""
        self.km.client_factory = MeteredClient
        self.kc = self.km.client(
            max_message_bytes=self.output_limit, received=self._received, unreadable=self._unreadable, refused=self._refused
        )
        try:
            await ensure_async(self.kc.start_channels())
            await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
        except Exception:
            await self._async_cleanup_kernel()
            raise
        self.kc.allow_stdin = False
        await run_hook(self.on_notebook_start, notebook=self.nb)
        return self.kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _received(self, size: int) -> bool:
        """Count a message of `size` bytes against the output cap: past it, the kernel is stopped and the message dropped."""
        self._output_bytes += size
        if self._output_bytes <= self.output_limit:
            return True
        self._refused()
        return False

    def _refused(self) -> None:
        self._stop(f"output limit ({format_size(self.output_limit)})")

    def _unreadable(self, why: str) -> None:
        self._unreadable_message = self._unreadable_message or why
        self._stop(f"a message the grader cannot read ({why})")

    def handle_comm_msg(self, outs, msg, cell_index) -> None:
        """Widgets are not graded: comm messages count against the output cap, and are not kept."""

    def on_cell_executed(self, **kwargs):
        """nbgrader's, then: a setup cell that failed on an import stops the notebook with `canary.SetupFailed`, so
        that nbgrader records nothing for it rather than 0 (`graders.runner.canary.refuse_failed_setup`)."""
        super().on_cell_executed(**kwargs)
        folder = (self.resources or {}).get("metadata", {}).get("path")
        refuse_failed_setup(self.nb, kwargs["cell_index"], kwargs["execute_reply"], folder)

    # -- the kernel's end ------------------------------------------------------------------------
    def _stop(self, reason: str) -> None:
        provisioner = self.km.provisioner
        self._stopped_for = self._stopped_for or reason
        if hasattr(provisioner, "stop"):
            provisioner.stop(reason)
        elif getattr(provisioner, "pgid", None):  # a kernel launched without the sandbox provisioner
            os.killpg(provisioner.pgid, signal.SIGKILL)

    def _limit_exceeded(self) -> str | None:
        limit_exceeded = getattr(self.km.provisioner, "limit_exceeded", None)
        return (limit_exceeded() if limit_exceeded else None) or self._stopped_for

    def _exit_status(self) -> str:
        process = getattr(self.km.provisioner, "process", None)
        code = process.poll() if process is not None else None
        return "" if code is None else f" (exit code {code})"


def _error(ename: str, evalue: str) -> NotebookNode:
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def stopped_notes(notebook: NotebookNode, name: str) -> list[str]:
    """One line per cell of an executed notebook that a limit, the kernel's death or the per-cell timeout stopped."""
    notes = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            if output.get("ename") in (LIMIT_ERROR, DIED_ERROR, PROTOCOL_ERROR) and not output.get("evalue", "").startswith("not run"):
                notes.append(f"{output['evalue']} of {name}")
            elif output.get("ename") == TIMEOUT_ERROR:
                notes.append(f"cell {cell_name(cell, index)} of {name} ran past the per-cell time limit and was stopped")
    return notes


def autograde_preprocessors(execute=SandboxedExecute) -> list:
    """nbgrader's autograde preprocessors, in nbgrader's order, with `execute` in place of its Execute."""
    from nbgrader.converters import Autograde

    return [execute if step is Execute else step for step in Autograde.class_traits()["autograde_preprocessors"].default()]
