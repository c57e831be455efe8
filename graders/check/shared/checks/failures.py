"""`CheckFailed`: the one exception every check raises, with a message that reads like pytest's.

    step 3 (build_model): logits shape — expected (32, 10), found (32, 9). Look at: the size of the last layer.

Messages name the step, what was checked, what was expected and found, and where to look;
they never show solution code. Where a hidden test raises one (the autograded notebook, so
formgrader and the student's feedback), IPython shows that message alone, wrapped to fit the
page, not the grader's stack and source (`CheckFailed._render_traceback_`).
"""

from __future__ import annotations

import re
import textwrap

STEPS = (
    "download",
    "load_and_preprocess",
    "build_model",
    "make_loss_and_optimizer",
    "accuracy",
    "train",
    "report",
    "results",
)
"""The pipeline steps in order (numbered from 1), then the graded `results` cell."""

_ABSENT = object()
SHOWN_WIDTH = 96  # characters per line of a failure as IPython shows it (the feedback page does not wrap)


def step_label(step: str | None) -> str:
    """'step 3 (build_model)' for a pipeline step, 'results' for the results cell, else the name."""
    if step is None:
        return ""
    if step == "results":
        return "results"
    if step in STEPS:
        return f"step {STEPS.index(step) + 1} ({step})"
    return str(step)


def show(value) -> str:
    """A short, readable form of a value for a message."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


class CheckFailed(AssertionError):
    """A check did not pass: `what` was checked, `expected` and `found` differ, `hint` says where to look.

    `step` is filled in by whoever knows it (`StepChecks`); several failures can be `combine`d
    into one exception whose message has one line per failure.
    """

    def __init__(self, what: str, expected=_ABSENT, found=_ABSENT, hint: str | None = None, *, step: str | None = None):
        self.what = what
        self.expected = None if expected is _ABSENT else expected
        self.found = None if found is _ABSENT else found
        self._has_values = expected is not _ABSENT or found is not _ABSENT
        self._expected, self._found = expected, found
        self.hint = hint
        self.step = step
        self.failures: list[CheckFailed] = [self]
        super().__init__(what)

    def line(self) -> str:
        """This failure (not the combined ones) as one line."""
        text = f"{step_label(self.step)}: {self.what}" if self.step else self.what
        if self._has_values:
            parts = []
            if self._expected is not _ABSENT:
                parts.append(f"expected {show(self._expected)}")
            if self._found is not _ABSENT:
                parts.append(f"found {show(self._found)}")
            text += " — " + ", ".join(parts)
        text = text.rstrip()
        if not text.endswith((".", "!", "?")):
            text += "."
        if self.hint:
            hint = self.hint.rstrip()
            text += f" Look at: {hint}" + ("" if hint.endswith((".", "!", "?")) else ".")
        return text

    @property
    def message(self) -> str:
        return "\n".join(failure.line() for failure in self.failures)

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows for this exception instead of a traceback: its name, then each failure
        with a ✗, wrapped at SHOWN_WIDTH. The stack would be the grader's code, of no use to the student."""
        lines = [f"\x1b[0;31m{type(self).__name__}\x1b[0m: a hidden test failed"]
        for failure in self.failures:
            lines += textwrap.wrap(
                failure.line(), SHOWN_WIDTH, initial_indent="✗ ", subsequent_indent="  ",
                break_long_words=False, break_on_hyphens=False,
            )
        return lines

    @classmethod
    def combine(cls, failures: list[CheckFailed]) -> CheckFailed:
        """One exception for several failures (attributes of the first; message of all)."""
        if not failures:
            raise ValueError("nothing to combine")
        if len(failures) == 1:
            return failures[0]
        first = failures[0]
        combined = cls(first.what, first._expected, first._found, first.hint, step=first.step)
        combined.failures = [f for failure in failures for f in failure.failures]
        return combined


ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")


def short(error: BaseException, limit: int = 300) -> str:
    """The first lines of an exception's message, at most `limit` characters, without a final period
    or the terminal colour codes that Keras puts in its messages."""
    lines = [line for line in ANSI_CODES.sub("", str(error)).strip().splitlines() if line.strip()]
    text = " ".join(lines[:3])
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.rstrip(".")
