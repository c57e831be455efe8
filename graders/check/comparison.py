"""Checks for the `framework_comparison` notebook: `ComparisonChecks`, with `StepChecks`' method names.

```python
check = ComparisonChecks()
check.public("weights_to_torch", numpy_to_torch, torch_to_numpy)  # never raises: ✓ to stdout, ✗ to stderr
check.hidden("weights_to_torch", numpy_to_torch, torch_to_numpy)  # public + hidden; raises CheckFailed
with check.guard("the logits side by side"):                      # errors become one stderr line
    ...
```

Steps and the student objects each takes, in order (`graders.check.shared.comparison_contract.OBJECTS`):

- ``weights_to_torch``: numpy_to_torch, torch_to_numpy
- ``weights_to_keras``: numpy_to_keras, keras_to_numpy
- ``same_logits``: tf1_mlp, logits_in_three_frameworks
- ``pad_batch``: pad_batch
- ``static_bag``: masked_mean, static_bag
- ``dynamic_bag``: torch_bag, dynamic_bag

A check is two halves, as the pipeline's are: the probe (`graders.check.kernel.comparison_probe`) calls the
student's objects on the grader's data (weights, inputs, sequences, padded rectangles) and on the
models the grader saved in their framework's format, and keeps what came out; the judge
(`graders.check.trusted.comparison_judge`) decides from those values and its own NumPy figures. Here, for a
self-check, both run in the notebook's kernel, the model files written into a temporary folder;
at grading, the hidden test cell's ``grade("comparison", None, step, ...)`` is decided by the
grading process (`graders.runner.verdict`), which runs only the probe in the kernel. This module
imports the judge only when a self-check runs: the grading kernel, which cannot import it, needs
only the checker's construction (the setup cell). Neither half uses the reference solution; in
the students' install the judge reads the public inputs, answers and models made when its wheel
was built (`graders.check.trusted.comparison_judge.packaged`), so the self-checks are the same there. A failure is a
`graders.check.shared.checks.CheckFailed` saying what was expected, what was found, and where to look. Student
code runs with warnings ignored and stderr (Python's and file descriptor 2) discarded, so a
correct solution writes nothing to stderr (nbgrader gives 0 points to a test cell with stderr output).
"""

from __future__ import annotations

from graders.check.front import Checks
from graders.check.kernel import comparison_probe
from graders.check.shared.comparison_contract import STEPS


class ComparisonChecks(Checks):
    """Self-checks (`public`) and graded checks (`hidden`) for the framework_comparison notebook."""

    STEPS = STEPS
    kind = "comparison"

    def __init__(self):
        comparison_probe.setup()
        super().__init__()
