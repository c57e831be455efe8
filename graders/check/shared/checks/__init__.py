"""Small, framework-neutral checks on NumPy values; each raises `CheckFailed` or returns what passed.

One module per concern: `failures` (the exception), `shapes`, `ranges` (data), `loss`,
`metric`, `training`, `accuracy` (thresholds and the results scale).
"""

from graders.check.shared.checks.accuracy import check_accuracy_at_least, check_report, points_for
from graders.check.shared.checks.failures import STEPS, CheckFailed, step_label
from graders.check.shared.checks.loss import (
    check_logits,
    check_loss_matches,
    check_untrained_loss,
    cross_entropy,
    log_softmax,
    softmax,
)
from graders.check.shared.checks.metric import CASES, PUBLIC_CASE, check_metric, check_same_answer
from graders.check.shared.checks.ranges import (
    check_count,
    check_equal_arrays,
    check_labels,
    check_normalised,
    check_raw_data,
    check_reiterable,
    check_reshuffled,
    check_same_examples,
    check_split_sizes,
)
from graders.check.shared.checks.shapes import check_dtype, check_finite, check_parameters, check_shape, check_varies
from graders.check.shared.checks.training import (
    check_decreasing,
    check_history,
    check_loss_used,
    check_step_losses,
    describe_history,
    sparkline,
)

__all__ = [
    "CASES",
    "PUBLIC_CASE",
    "STEPS",
    "CheckFailed",
    "check_accuracy_at_least",
    "check_count",
    "check_decreasing",
    "check_dtype",
    "check_equal_arrays",
    "check_finite",
    "check_history",
    "check_labels",
    "check_logits",
    "check_loss_used",
    "check_loss_matches",
    "check_metric",
    "check_normalised",
    "check_parameters",
    "check_raw_data",
    "check_reiterable",
    "check_report",
    "check_reshuffled",
    "check_same_answer",
    "check_same_examples",
    "check_shape",
    "check_split_sizes",
    "check_step_losses",
    "check_untrained_loss",
    "check_varies",
    "cross_entropy",
    "describe_history",
    "log_softmax",
    "points_for",
    "softmax",
    "sparkline",
    "step_label",
]
