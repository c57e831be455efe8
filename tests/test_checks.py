"""The framework-neutral checks of graders.check.shared.checks: each passes on good values and fails on a concrete bad one."""

import math

import numpy as np
import pytest

from course.data import RawData
from graders.check.shared.checks import (
    CASES,
    PUBLIC_CASE,
    CheckFailed,
    check_accuracy_at_least,
    check_count,
    check_decreasing,
    check_dtype,
    check_equal_arrays,
    check_finite,
    check_history,
    check_labels,
    check_logits,
    check_loss_matches,
    check_loss_used,
    check_metric,
    check_normalised,
    check_parameters,
    check_raw_data,
    check_reiterable,
    check_report,
    check_reshuffled,
    check_same_answer,
    check_same_examples,
    check_shape,
    check_split_sizes,
    check_step_losses,
    check_untrained_loss,
    check_varies,
    cross_entropy,
    describe_history,
    log_softmax,
    points_for,
    softmax,
    sparkline,
    step_label,
)
from graders.check.shared.checks.metric import reference_accuracy


def failure(check, *args, **kwargs) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        check(*args, **kwargs)
    return info.value


# failures ----------------------------------------------------------------------------------
def test_message_reads_like_pytest_and_is_an_assertion_error():
    error = CheckFailed("logits shape", (32, 10), (32, 9), "the size of the last layer", step="build_model")
    assert isinstance(error, AssertionError)
    assert str(error) == (
        "step 3 (build_model): logits shape — expected (32, 10), found (32, 9). Look at: the size of the last layer."
    )
    assert (error.step, error.expected, error.found, error.hint) == (
        "build_model",
        (32, 10),
        (32, 9),
        "the size of the last layer",
    )


def test_message_without_values_or_hint_and_labels():
    assert str(CheckFailed("not implemented yet", step="train")) == "step 6 (train): not implemented yet."
    assert str(CheckFailed("no model", step="results")) == "results: no model."
    assert str(CheckFailed("x", found=None)) == "x — found None."
    assert step_label("download") == "step 1 (download)" and step_label("report") == "step 7 (report)"


def test_combine_keeps_every_message():
    a = CheckFailed("a", 1, 2, step="download")
    b = CheckFailed("b", hint="there", step="download")
    combined = CheckFailed.combine([a, b])
    assert str(combined).splitlines() == [str(a), str(b)]
    assert combined.what == "a" and combined.failures == [a, b]
    assert CheckFailed.combine([a]) is a


# shapes ------------------------------------------------------------------------------------
def test_check_shape_none_is_any_size():
    assert check_shape("inputs", (None, 64), (None, 64)) == "inputs (None, 64)"
    assert check_shape("x", np.zeros((7, 64)), (None, 64)) == "x (7, 64)"
    assert check_shape("inputs", (None, 64), (None, 64), none_is_any=False) == "inputs (None, 64)"
    error = failure(check_shape, "logits", np.zeros((32, 9)), (32, 10), "the size of the last layer")
    assert error.expected == (32, 10) and error.found == (32, 9)
    assert "expected (32, 10), found (32, 9)" in str(error)
    error = failure(check_shape, "inputs (static)", (32, 64), (None, 64), none_is_any=False)
    assert "expected (None, 64), found (32, 64)" in str(error)
    assert "found (32, 10, 1)" in str(failure(check_shape, "logits", np.zeros((32, 10, 1)), (32, 10)))


def test_check_dtype_names_numpy_and_torch_dtypes():
    assert check_dtype("x", np.zeros(3, np.float32), np.float32) == "x float32"
    assert check_dtype("y", np.zeros(3, np.int64), (np.int64, np.int32)) == "y int64"
    error = failure(check_dtype, "x", np.zeros(3), np.float32, "cast to float32")
    assert "x dtype — expected float32, found float64. Look at: cast to float32." == str(error)


def test_structure_checks():
    assert check_finite("logits", [1.0, 2.0]) == "logits finite"
    assert "2 NaN or infinite" in str(failure(check_finite, "logits", [np.nan, np.inf, 1.0]))
    assert check_parameters(9610) == "9,610 trainable parameters"
    assert "expected at least one, found 0" in str(failure(check_parameters, 0))
    assert check_varies("logits", np.eye(3))
    assert "same output" in str(failure(check_varies, "logits", np.ones((4, 10))))


# data --------------------------------------------------------------------------------------
def raw_data(n=20, m=5):
    rng = np.random.default_rng(0)
    return RawData(
        rng.integers(0, 256, (n, 8, 8), dtype=np.uint8),
        rng.integers(0, 10, n, dtype=np.uint8),
        rng.integers(0, 256, (m, 8, 8), dtype=np.uint8),
        rng.integers(0, 10, m, dtype=np.uint8),
    )


def test_check_raw_data():
    raw = raw_data()
    shapes = {"x_train": (20, 8, 8), "y_train": (20,), "x_test": (5, 8, 8), "y_test": (5,)}
    assert check_raw_data(raw, shapes).startswith("4 uint8 arrays")
    assert "expected 4 arrays" in str(failure(check_raw_data, raw[:3]))
    error = failure(check_raw_data, raw._replace(x_train=raw.x_train.astype(np.float32)))
    assert "x_train dtype — expected uint8, found float32" in str(error)
    assert "expected (N, H, W), found (20, 64)" in str(
        failure(check_raw_data, raw._replace(x_train=raw.x_train.reshape(20, -1)))
    )
    assert "y_test values — expected 0..9, found 6..10" in str(
        failure(check_raw_data, raw._replace(y_test=np.arange(6, 11, dtype=np.uint8)))
    )
    assert "x_test shape — expected (9, 8, 8), found (5, 8, 8)" in str(
        failure(check_raw_data, raw, {**shapes, "x_test": (9, 8, 8)})
    )


def test_check_equal_arrays():
    x = np.arange(12).reshape(3, 4)
    assert check_equal_arrays("x_train", x, x.copy()) == "x_train exact"
    changed = x.copy()
    changed[1, 2] += 1
    assert "1 of 12 differ" in str(failure(check_equal_arrays, "x_train", changed, x))


def test_check_normalised_explains_the_scale():
    x = np.linspace(0, 1, 64, dtype=np.float32)
    assert check_normalised("x", x) == "x in [0, 1]"
    error = failure(check_normalised, "x", x * 255)
    assert "found max 255" in str(error) and "divide the pixels by 255" in str(error)
    assert "min -1" in str(failure(check_normalised, "x", x * 2 - 1))
    assert "not twice" in str(failure(check_normalised, "x", x / 255))


def test_check_labels_and_counts():
    assert check_labels("y", np.array([0, 9, 3])) == "y in 0..9"
    assert "expected integers, found float32" in str(failure(check_labels, "y", np.zeros(3, np.float32)))
    assert "found 1..10" in str(failure(check_labels, "y", np.array([1, 10])))
    assert check_count("test", 360, 360) == "test 360"
    assert "test examples — expected 360, found 352" in str(failure(check_count, "test", 352, 360))


def test_check_split_sizes():
    assert check_split_sizes(1131, 126, 1257, 0.1) == "train 1131 + validation 126 = 1257"
    assert check_split_sizes(1132, 125, 1257, 0.1)  # within one example
    error = failure(check_split_sizes, 1131, 126, 1300, 0.1)
    assert "expected 1300, found 1131 + 126 = 1257" in str(error)
    assert "validation examples — expected about 126" in str(failure(check_split_sizes, 1000, 257, 1257, 0.1))


def test_check_same_examples_ignores_order_but_not_pairs():
    raw = raw_data()
    x, y = raw.x_train.reshape(20, -1).astype(np.float32) / 255, raw.y_train.astype(np.int64)
    order = np.random.default_rng(1).permutation(20)
    assert check_same_examples("train", x[order], y[order], x, y).endswith("right images and labels")
    swapped = y[order].copy()
    swapped[[0, 1]] = (swapped[0] + 1) % 10, (swapped[1] + 1) % 10
    assert "are not the course's" in str(failure(check_same_examples, "train", x[order], swapped, x, y))
    assert "expected 20, found 19" in str(failure(check_same_examples, "train", x[1:], y[1:], x, y))
    assert "not pixel / 255" in str(failure(check_same_examples, "train", x / 256 * 255.5, y, x, y))


def test_check_reshuffled():
    a = np.arange(10)
    assert check_reshuffled("train", a, a[::-1]) == "train reshuffled each epoch"
    assert "same order every epoch" in str(failure(check_reshuffled, "train", a, a.copy()))


def test_check_reiterable():
    assert check_reiterable("train", [(1, 2)]) == ""
    message = str(failure(check_reiterable, "train", (batch for batch in [(1, 2)])))
    assert "the train split — expected re-iterable batches: every for loop over it a new pass (one epoch), found a generator" in message
    assert "expected batches to iterate over, found int" in str(failure(check_reiterable, "test", 3))


# loss --------------------------------------------------------------------------------------
def test_cross_entropy_matches_the_definition():
    logits = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 1000.0]])
    labels = np.array([0, 2])
    p = np.exp(logits[0]) / np.exp(logits[0]).sum()
    assert cross_entropy(logits, labels) == pytest.approx(-np.log(p[0]) / 2)
    assert cross_entropy(np.zeros((4, 10)), np.arange(4)) == pytest.approx(math.log(10))


def test_check_loss_matches():
    assert check_loss_matches(np.float32(2.3026), 2.302585) == "loss on a fixed batch 2.3026 matches"
    error = failure(check_loss_matches, 0.0813, 2.3026)
    assert "expected 2.3026, found 0.0813" in str(error) and "cross-entropy" in str(error)
    assert "the mean over the batch, not the sum" in str(failure(check_loss_matches, 2.3026 * 32, 2.3026))
    assert "expected a scalar, found (32,)" in str(failure(check_loss_matches, np.ones(32), 1.0))
    assert "a finite" not in str(failure(check_loss_matches, float("nan"), 2.3))


def test_check_logits_tells_logits_from_probabilities():
    logits = np.random.default_rng(0).normal(size=(8, 10))
    assert check_logits(logits) == "raw logits"
    assert np.allclose(softmax(logits).sum(axis=1), 1) and np.allclose(np.log(softmax(logits)), log_softmax(logits))
    assert "found probabilities: every row sums to 1. Look at: no softmax." in str(failure(check_logits, softmax(logits), "no softmax"))
    assert "found log-probabilities: the exp of every row sums to 1" in str(failure(check_logits, log_softmax(logits)))
    assert check_logits(np.full((4, 10), 0.1) + np.eye(4, 10)) == "raw logits"  # positive, but rows sum to 2


def test_check_untrained_loss():
    assert check_untrained_loss(2.35).startswith("untrained loss 2.350")
    error = failure(check_untrained_loss, 5.1)
    assert "about ln(10) = 2.303 (± 0.5), found 5.100" in str(error)


# metric ------------------------------------------------------------------------------------
def test_cases_have_known_answers():
    assert [case.expected for case in CASES[:3]] == [0.6, 0.0, 1.0]
    for case in CASES:
        assert case.logits.shape[0] != case.logits.shape[1]  # not square
        assert reference_accuracy(case.logits, case.labels) == case.expected
        assert case.labels.dtype == np.int64 and case.logits.dtype == np.float32
    tied = PUBLIC_CASE.logits.max(axis=1, keepdims=True) == PUBLIC_CASE.logits
    assert (tied.sum(axis=1) == 2).sum() == 2  # two rows tie, both wrongly


def test_check_metric_exact_and_wrong_variants():
    case = PUBLIC_CASE
    assert check_metric(np.float32(0.6), case) == "15 examples, 9 right, 2 ties: 0.6"
    off_by_one = reference_accuracy(case.logits + 0, case.labels + 1)
    error = failure(check_metric, off_by_one, case)
    assert "accuracy on 15 examples, 9 right, 2 ties — expected 0.6, found 0" in str(error)
    assert "not their number" in str(failure(check_metric, 9, case))
    assert "expected a scalar, found (15,)" in str(failure(check_metric, np.ones(15), case))
    assert "accuracy on 15 examples, 9 right, 2 ties type — expected a number (scalar), found str" in str(
        failure(check_metric, "0.6", case)
    )


def test_check_same_answer():
    assert check_same_answer(0.6, np.float32(0.6), PUBLIC_CASE, CASES[1]) == "the same answer every call"
    message = str(failure(check_same_answer, 0.6, 0.4865, PUBLIC_CASE, CASES[1]))
    assert "called again after a call on 7 examples, none right — expected 0.6 again" in message
    assert "reset_state()" in message


# training ----------------------------------------------------------------------------------
def test_check_history():
    good = [2.3, 1.0, 0.5]
    assert check_history(good, steps=3) == "3 losses"
    assert "expected a list of floats, one loss per step, found None" in str(failure(check_history, None))
    assert "found ndarray" in str(failure(check_history, np.array(good)))
    assert "found 0" in str(failure(check_history, []))
    assert "type of loss #1 — expected Python float, found float32" in str(
        failure(check_history, [2.3, np.float32(1.0)])
    )
    assert "loss #2 — expected a finite number, found nan" in str(failure(check_history, [2.3, 1.0, float("nan")]))
    assert "expected 4 (one per batch, every epoch), found 3" in str(failure(check_history, good, steps=4))


def test_check_step_losses_and_loss_used():
    steps = [2.0, 1.0, 0.5, 0.25]
    running = list(np.cumsum(steps) / np.arange(1, 5))
    assert check_step_losses(steps, None) == ""  # unknown: the loss ran another number of times
    assert check_step_losses(steps, steps) == check_step_losses(steps, sum(steps)) == "one loss per step"
    message = str(failure(check_step_losses, running, steps, "no running means"))
    assert "loss #1 that train returns — expected 1.0000, what the loss computed at that step, found 1.5000 (3 of 4 steps differ)" in message
    message = str(failure(check_step_losses, running, sum(steps)))
    assert "expected the loss of each step, as the loss computed it (together 3.7500), found other values (together 5.6042)" in message
    assert check_loss_used(4, 4) == ""
    assert "calls of the loss that train is given — expected one per step (4), found 0" in str(failure(check_loss_used, 0, 4))


def test_check_decreasing_includes_numbers_and_sparkline():
    falling = list(np.linspace(2.3, 0.1, 100))
    assert check_decreasing(falling).startswith("loss 2.200 -> 0.200 █")
    flat = [2.3 - 0.001 * i for i in range(100)]
    error = failure(check_decreasing, flat)
    message = str(error)
    assert "mean of the last 10 steps < 0.5 × mean of the first 10" in message
    assert "expected below 1.148" in message and "found 2.296 -> 2.20" in message
    assert any(bar in message for bar in "▁█") and "Look at: the training step" in message
    assert "Look at: zero_grad." in str(failure(check_decreasing, flat, hint="zero_grad"))


def test_sparkline_and_description():
    assert sparkline([3, 2, 1]) == "█▅▁"
    assert len(sparkline(range(1000), width=24)) == 24
    assert sparkline([1, 1]) == "▁▁" and sparkline([]) == ""
    assert describe_history([2.0, 1.0]).startswith("loss 2.000 -> 1.000 over 2 steps")


# accuracy ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "accuracy, expected",
    [
        (0.99, 3.0),
        (0.95, 3.0),
        (0.9499, 3.0 * 0.4499 / 0.45),
        (0.725, 1.5),
        (0.6, 0.67),
        (0.5, 0.0),
        (0.3, 0.0),
        (float("nan"), 0.0),
    ],
)
def test_points_for_scale(accuracy, expected):
    earned = points_for(accuracy, reference=0.97, points=3)
    assert type(earned) is float
    assert earned == round(expected, 2)


def test_points_for_options():
    assert points_for(0.8, reference=0.9, points=2, floor=0.7, margin=0.0) == 1.0
    assert points_for(0.9, reference=0.9, points=2, floor=0.7, margin=0.0) == 2.0
    assert points_for(0.7, reference=0.9, points=2, floor=0.7, margin=0.0) == 0.0


def test_check_accuracy_at_least():
    assert check_accuracy_at_least("test accuracy", 0.95, 0.9) == "test accuracy 0.9500"
    assert "expected at least 0.90, found 0.1000" in str(failure(check_accuracy_at_least, "test accuracy", 0.1, 0.9))


def test_check_report():
    expected = {"train_accuracy": 0.95, "test_accuracy": 0.9}
    assert (
        check_report({"train_accuracy": 0.9504, "test_accuracy": 0.9}, expected)
        == "train_accuracy 0.9504, test_accuracy 0.9000"
    )
    assert "found list" in str(failure(check_report, [0.95, 0.9], expected))
    assert "keys" in str(failure(check_report, {"train": 0.95}, expected))
    assert "train_accuracy range" in str(
        failure(check_report, {"train_accuracy": 95.0, "test_accuracy": 0.9}, expected)
    )
    error = failure(
        check_report, {"train_accuracy": 0.95, "test_accuracy": 0.95}, expected, context="with other splits"
    )
    assert "with other splits: test_accuracy — expected 0.9000 (the grader's own evaluation), found 0.9500" in str(
        error
    )
    assert "expected Python float, found str" in str(
        failure(check_report, {"train_accuracy": "0.9", "test_accuracy": 0.9}, expected)
    )
