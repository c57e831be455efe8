"""graders.reference_code.Watch: a graded step that runs the reference's own code scores 0, by every route;
the reference code the checker itself hands to a student's step, and student code with the reference's
text, do not count."""

import importlib
import inspect
import sys
import threading

import pytest

import graders.notebook
from copies import student_copy
from graders.checks import CheckFailed
from graders.notebook import StepChecks

USES = "uses the reference solution"


@pytest.fixture(scope="module")
def check():
    return StepChecks("torch")


@pytest.fixture(scope="module")
def own():
    return student_copy("solutions.torch_pipeline")


def flagged(check, step, function) -> str:
    with pytest.raises(CheckFailed) as caught:
        check.hidden(step, function)
    return str(caught.value)


def test_a_direct_import(check):
    def train(model, loss, optimizer, batches, epochs=10):
        from solutions.torch_pipeline import train

        return train(model, loss, optimizer, batches, epochs)

    assert flagged(check, "train", train) == (
        f"step 6 (train) {USES} (solutions.torch_pipeline.train): a graded step must be the student's own code, "
        "so this step scores 0."
    )


def test_a_module_name_built_at_run_time(check):
    def accuracy(logits, labels):
        return importlib.import_module("sol" + "utions.torch_pipeline").accuracy(logits, labels)

    assert flagged(check, "accuracy", accuracy).startswith(f"step 5 (accuracy) {USES} (solutions.torch_pipeline.accuracy)")


def test_the_checkers_own_objects(check, own):
    def build_model(input_dim, num_classes=10, hidden_units=128, seed=0):
        return check.reference.build_model(input_dim, num_classes, hidden_units, seed)

    def class_of_the_reference(input_dim, num_classes=10, hidden_units=128, seed=0):
        return check.adapter.reference.MLP(input_dim, num_classes, hidden_units)  # the class's __init__ runs

    def report(model, splits):
        return graders.notebook._grader.reference.report(model, splits)

    assert flagged(check, "build_model", build_model).startswith(f"step 3 (build_model) {USES} (solutions.torch_pipeline.build_model")
    assert flagged(check, "build_model", class_of_the_reference).startswith(f"step 3 (build_model) {USES} (solutions.torch_pipeline.MLP)")
    assert flagged(check, "report", report).startswith(f"step 7 (report) {USES} (solutions.torch_pipeline.report)")


def test_a_reference_module_imported_anew_during_the_call(check):
    """A second import of a reference module (taken out of sys.modules) has new code objects: still recognised."""
    package, first = sys.modules["solutions"], sys.modules.pop("solutions.torch_pipeline")

    def accuracy(logits, labels):
        return importlib.import_module("solutions.torch_pipeline").accuracy(logits, labels)

    try:
        assert flagged(check, "accuracy", accuracy).startswith(f"step 5 (accuracy) {USES} (solutions.torch_pipeline.accuracy)")
        assert sys.modules["solutions.torch_pipeline"] is not first
    finally:
        sys.modules["solutions.torch_pipeline"] = package.torch_pipeline = first


def test_the_students_loss_called_by_the_courses_train(check, own):
    """Step 4's hidden check trains with the reference's train, which calls the student's loss: still watched."""
    import torch

    def make_loss_and_optimizer(model, learning_rate=1e-3):
        def loss(logits, labels):
            if torch.is_grad_enabled():  # only while training: not when the public check computes the loss
                check.reference.accuracy(logits, labels)
            return torch.nn.functional.cross_entropy(logits, labels)

        return loss, torch.optim.Adam(model.parameters(), lr=learning_rate)

    assert check.passes("make_loss_and_optimizer", make_loss_and_optimizer) is True  # public checks do not watch
    message = flagged(check, "make_loss_and_optimizer", make_loss_and_optimizer)
    assert message.startswith(f"step 4 (make_loss_and_optimizer) {USES} (solutions.torch_pipeline.accuracy)")


def test_the_reference_model_in_a_students_train_is_not_flagged(check, own, capsys):
    """The train check hands the student's train the reference's model: its forward runs, legitimately."""
    check.hidden("train", own.train)
    assert capsys.readouterr().out.count("✓ step 6 (train) (public and hidden checks)") == 1


def test_the_references_text_in_a_students_cell_is_not_flagged(check, capsys):
    """The same lines as the reference, in the student's own cell, are the student's code."""
    cell = "def accuracy(logits, labels):\n    return (logits.argmax(dim=1) == labels).float().mean()\n"
    assert cell.splitlines()[1] in inspect.getsource(check.reference)
    namespace = {}
    exec(compile(cell, "<notebook cell>", "exec"), namespace)
    check.hidden("accuracy", namespace["accuracy"])
    assert "✓ step 5 (accuracy) (public and hidden checks)" in capsys.readouterr().out


@pytest.mark.parametrize("switch_off", ["sys.setprofile", "sys.settrace", "threading.setprofile"])
def test_switching_the_watch_off_fails_the_step(check, own, switch_off):
    def accuracy(logits, labels):
        {"sys.setprofile": sys.setprofile, "sys.settrace": sys.settrace, "threading.setprofile": threading.setprofile}[switch_off](None)
        return own.accuracy(logits, labels)

    assert flagged(check, "accuracy", accuracy) == (
        f"step 5 (accuracy) switched the grader's watch off (it called {switch_off} while it was checked), so this step scores 0."
    )
    assert sys.getprofile() is None and threading.getprofile() is None  # the watch put back what was there


def test_a_pipeline_that_ran_the_reference_scores_zero_results(check, own):
    """`guard` watches the whole-pipeline cell; the results of a model the reference trained score 0."""
    ref, hp = check.reference, check.hp
    try:
        with check.guard("the whole pipeline"):
            splits = own.load_and_preprocess(check.raw, batch_size=hp.batch_size, seed=0)
            model = own.build_model(check.input_dim, hidden_units=hp.hidden_units, seed=0)
            loss, optimizer = own.make_loss_and_optimizer(model, learning_rate=hp.learning_rate)
            ref.train(model, loss, optimizer, splits.train, epochs=2)
        with pytest.raises(CheckFailed) as caught:
            check.score_results(model, points=3)
        assert str(caught.value) == (
            "results: the trained model comes from the reference solution: the whole pipeline ran "
            "solutions.torch_pipeline.train, so the results score 0."
        )
    finally:
        with check.guard("the whole pipeline"):  # the last run counts: a clean one for the other tests
            own.train(model, loss, optimizer, splits.train, epochs=2)
    assert check.score_results(model, points=3) > 0
