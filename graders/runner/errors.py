"""What stops grading, by name: the errors written into a stopped cell, and the exceptions that stop a submission or a
batch before anything is recorded."""

from __future__ import annotations

LIMIT_ERROR = "SubmissionLimitExceeded"
DIED_ERROR = "KernelDied"
PROTOCOL_ERROR = "KernelProtocolError"
TIMEOUT_ERROR = "CellTimeoutError"  # nbgrader's Execute.error_on_timeout


class EnvironmentBroken(RuntimeError):
    """The grading environment cannot grade: nothing was graded. `cause` says what failed and why; the message
    is one line, ending with what to run."""

    def __init__(self, cause: str, consequence: str = "no submission was graded", assignment: str | None = None):
        self.cause = cause
        doctor = " ".join(["python -m graders doctor", *([assignment] if assignment else [])])
        self.consequence, self.assignment = consequence, assignment
        super().__init__(f"the grading environment is broken: {cause}; {consequence}. Run {doctor}.")

    def __reduce__(self):  # as it was made, when it comes back from a cluster's worker
        return type(self), (self.cause, self.consequence, self.assignment)


class SetupFailed(EnvironmentBroken):
    """A grading kernel's setup cell failed on an import: raised while the notebook runs, so that nothing is
    recorded for it."""
