"""Checks for the `framework_comparison` notebook: `ComparisonChecks`, with `StepChecks`' method names.

```python
check = ComparisonChecks()
check.public("weights_to_torch", numpy_to_torch, torch_to_numpy)  # never raises: ✓ to stdout, ✗ to stderr
check.hidden("weights_to_torch", numpy_to_torch, torch_to_numpy)  # public + hidden; raises CheckFailed
with check.guard("the logits side by side"):                      # errors become one stderr line
    ...
```

Steps and the student objects each takes, in order (`graders.comparison_contract.OBJECTS`):

- ``weights_to_torch``: numpy_to_torch, torch_to_numpy
- ``weights_to_keras``: numpy_to_keras, keras_to_numpy
- ``same_logits``: tf1_mlp, logits_in_three_frameworks
- ``pad_batch``: pad_batch
- ``static_bag``: masked_mean, static_bag
- ``dynamic_bag``: torch_bag, dynamic_bag

A check is two halves, as the pipeline's are: the probe (`graders.comparison_probe`) calls the
student's objects on the grader's data (weights, inputs, sequences, padded rectangles) and on the
models the grader saved in their framework's format, and keeps what came out; the judge
(`graders.comparison_judge`) decides from those values and its own NumPy figures. Here, for a
self-check, both run in the notebook's kernel, the model files written into a temporary folder;
at grading, the hidden test cell's ``grade("comparison", None, step, ...)`` is decided by the
grading process (`graders.runner.verdict`), which runs only the probe in the kernel. This module
imports the judge only when a self-check runs: the grading kernel, which cannot import it, needs
only the checker's construction (the setup cell). Neither half uses the reference solution; in
the students' install the judge reads the public inputs, answers and models made when its wheel
was built (`graders.comparison_judge.packaged`), so the self-checks are the same there. A failure is a
`graders.checks.CheckFailed` saying what was expected, what was found, and where to look. Student
code runs with warnings ignored and stderr (Python's and file descriptor 2) discarded, so a
correct solution writes nothing to stderr (nbgrader gives 0 points to a test cell with stderr output).
"""

from __future__ import annotations

import functools
import sys
import tempfile

from graders import comparison_probe
from graders.checks import CheckFailed
from graders.comparison_contract import STEPS
from graders.notebook import guard, placed, register
from graders.student_code import short


class ComparisonChecks:
    """Self-checks (`public`) and graded checks (`hidden`) for the framework_comparison notebook."""

    STEPS = STEPS

    def __init__(self):
        comparison_probe.setup()
        self.verdicts: dict[str, bool] = {}  # step -> whether its last checks passed (graders.notebook.record_verdict)
        register(self)

    @functools.cached_property
    def case(self):
        """The judge's side (`graders.comparison_judge.ComparisonCase`), imported for the first self-check."""
        from graders.comparison_judge import ComparisonCase

        return ComparisonCase()

    def verdict(self, step: str, *objects, hidden: bool):
        """Probe and judge `step` here, on the student's `objects` and the model files the grader hands out (written into
        a temporary folder); the `graders.judge.Verdict`; CheckFailed for a step this notebook does not have."""
        self.case.known(step)
        inputs = self.case.inputs(step, hidden)
        with tempfile.TemporaryDirectory(prefix="comparison-check-") as folder:
            given = {name: array.copy() for name, array in inputs.items()}  # the student's code may write into what it is given
            given |= placed(self.case.files(step, hidden), folder)
            observation = comparison_probe.observe(step, objects, given, hidden)
        verdict = self.case.judge(step, inputs, observation, hidden)
        self.verdicts[step] = verdict.ok
        return verdict

    def public(self, step: str, *objects) -> None:
        """The self-check cell's call: `passes`, without a value for the notebook to show as Out[]."""
        self.passes(step, *objects)

    def passes(self, step: str, *objects) -> bool:
        """Run `step`'s self-checks on the student's objects.

        Prints '✓ step: what passed; ...' to stdout, or one '✗ ...' line per failure to stderr;
        returns True or False; never raises.
        """
        try:
            verdict = self.verdict(step, *objects, hidden=False)
        except CheckFailed as failure:
            print(f"✗ {failure}", file=sys.stderr)
            return False
        except Exception as error:  # never raise in a self-check
            print(f"✗ {step}: the check itself failed: {type(error).__name__}: {short(error)}", file=sys.stderr)
            return False
        if verdict.failures:
            for failure in verdict.failures:
                print(f"✗ {failure}".replace("\n", "\n✗ "), file=sys.stderr)
            return False
        print(_passed_line(verdict, hidden=False))
        return True

    def hidden(self, step: str, *objects) -> None:
        """Run `step`'s self-checks and hidden checks; raise CheckFailed (an AssertionError) with its failures, else print ✓."""
        verdict = self.verdict(step, *objects, hidden=True)
        if verdict.failures:
            raise CheckFailed.combine(verdict.failures) from None
        print(_passed_line(verdict, hidden=True))

    guard = staticmethod(guard)


def _passed_line(verdict, hidden: bool) -> str:
    from graders.judge import passed_line

    return passed_line(verdict, hidden)
