"""The grading process's side of a hidden test: the call it reads from the cell, and what it reads from the kernel.

What the kernel writes into its working folder is the submission's: the grader reads it without following a
link, refuses anything but a regular file of bounded size, and never unpickles; it writes its inputs only as
new files, never through a link the kernel planted. (tests/test_autograde.py grades the bank through it.)

The runner judges several jobs at once, one thread each: reading observations and hidden calls in threads never
fails (`graders.check.shared.ast_lock`); the control, without the lock, shows that it did.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import pickle
import sys
import threading
import zipfile

import numpy as np
import pytest
from submissions import ASSIGNMENTS, graded_cells, source_notebook

from graders.check.shared import observation
from graders.check.shared.checks import CheckFailed
from graders.check.shared.observation import MAX_BYTES, Observation, ObservationError, from_bytes, read, to_bytes, write_new
from graders.check.trusted.judge import Case
from graders.check.trusted.network import WEIGHT_NAMES
from graders.runner import verdict
from graders.runner.verdict import HiddenCall, failure_outputs

STEPS = ("download", "load_and_preprocess", "build_model", "make_loss_and_optimizer", "accuracy", "train", "report")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_graded_test_cell_of_the_source_holds_one_call_the_grader_reads(assignment):
    calls = {grade_id: HiddenCall.parse(cell.source) for grade_id, cell in graded_cells(source_notebook(assignment)).items()}
    code = {grade_id: call for grade_id, call in calls.items() if grade_id.endswith("_tests")}
    assert code and all(call is not None for call in code.values()), calls
    for grade_id, call in code.items():
        assert call.step == grade_id.removesuffix("_tests")
    if assignment != "framework_comparison":
        framework = assignment.removesuffix("_pipeline")
        assert {(c.kind, c.dataset) for c in code.values()} == {(framework, "digits")}
        assert {c.step: c.names for c in code.values()} == {**{s: (s,) for s in STEPS}, "results": ("model",)}
        assert code["results_tests"].points == 3


def test_a_cell_without_a_hidden_call_of_the_graders_is_run_as_it_is():
    """A student's own cell marked as graded gets no say in what the grader runs: only known checks are read."""
    assert HiddenCall.parse("check.public('download', download)") is None
    for made_up in ('"torch", "digits", "uninstall", download', '"torch", "../../etc", "train", train',
                    '"os", "digits", "train", train', '"comparison", None, "train", train'):
        assert HiddenCall.parse(f"### BEGIN HIDDEN TESTS\ngrade({made_up})\n### END HIDDEN TESTS") is None, made_up
    assert HiddenCall.parse("### BEGIN HIDDEN TESTS\nprint(1)\n### END HIDDEN TESTS") is None
    assert HiddenCall.parse("### BEGIN HIDDEN TESTS\ngrade(kind, 'digits', 'train', train)\n### END HIDDEN TESTS") is None


@pytest.mark.parametrize("junk", ["x", [1, "a"], {"a": 1}, np.array(["s"]), np.zeros((2, 2, 2)), True, 1e308])
def test_values_of_the_wrong_kind_fail_the_step_and_never_stop_the_grading(junk):
    """A patched kernel can hand back anything under any name: each step fails with a message, none raises."""
    case = Case("torch")
    keys = ["x_train", "y_train", "x_test", "y_test", "first_x", "first_y", "count_train", "count_validation", "count_test",
            "train_x", "train_y", "validation_x", "validation_y", "test_x", "test_y", "train_x_again", "model_type",
            "parameter_count", "static_shapes", "logits", "logits_7", "loss", "gradient", "history", "loss_calls",
            "loss_computed", "value_0", "value_1", "value_2", "value_3", "again", "report_0", "report_1"]
    keys += [f"after:{name}" for name in WEIGHT_NAMES]
    for step in STEPS:
        verdict = case.judge(step, case.inputs(step, hidden=True), Observation(dict.fromkeys(keys, junk)), hidden=True)
        assert verdict.failures and all(f.line().startswith(f"step {STEPS.index(step) + 1} ({step}): ") for f in verdict.failures)
    with pytest.raises(CheckFailed, match="the trained model could not be evaluated"):
        case.score_results(Observation({"logits": junk}), 3)


def test_an_observation_travels_without_pickle():
    observation = Observation({"logits": np.eye(3, dtype=np.float32), "count": 7, "name": "MLP", "none": None})
    observation.failed("model", CheckFailed("the model", "a torch.nn.Module", "list", "what build_model returns"))
    back = from_bytes(to_bytes(observation))
    assert np.array_equal(back.values["logits"], np.eye(3)) and back.values["logits"].dtype == np.float32
    assert (back.values["count"], back.values["name"], back.values["none"]) == (7, "MLP", None)
    assert back.failures_at("model")[0].line() == (
        "the model — expected a torch.nn.Module, found list. Look at: what build_model returns."
    )
    hostile = pickle.dumps(object())  # a pickle is no observation, and nothing in it runs
    with pytest.raises(ObservationError, match="not an observation"):
        from_bytes(hostile)
    bomb = io.BytesIO()  # a few KiB that would unpack to more than the grader reads
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__observation__.npy", b"\0" * (MAX_BYTES + 1))
    assert len(bomb.getvalue()) < 2 << 20
    with pytest.raises(ObservationError, match=f"unpacks to {MAX_BYTES >> 20} MiB, more than {MAX_BYTES >> 20} MiB"):
        from_bytes(bomb.getvalue())
    buffer = io.BytesIO()  # an object array, which only pickle could load
    np.savez(buffer, __observation__=np.array('{"arrays": ["x"]}'), a0=np.array([object()], dtype=object))
    with pytest.raises(ObservationError, match="holds \\|O, not numbers or text"):
        from_bytes(buffer.getvalue())


def test_the_grader_reads_no_link_no_fifo_and_nothing_too_large(tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_bytes(to_bytes(Observation({"leaked": 1})))
    work = tmp_path / "work"
    work.mkdir()
    (work / "link.npz").symlink_to(secret)
    os.mkfifo(work / "fifo.npz")
    with open(work / "huge.npz", "wb") as file:
        file.truncate(MAX_BYTES + 1)
    (work / "good.npz").write_bytes(to_bytes(Observation({"x": 1})))
    folder = os.open(work, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read(folder, "good.npz").values == {"x": 1}
        with pytest.raises(ObservationError, match="could not be opened"):
            read(folder, "link.npz")
        with pytest.raises(ObservationError, match="not a regular file"):
            read(folder, "fifo.npz")
        with pytest.raises(ObservationError, match="more than"):
            read(folder, "huge.npz")
        with pytest.raises(ObservationError, match="no observation"):
            read(folder, "missing.npz")
        (work / "planted.npz").symlink_to(secret)  # the kernel guessed the name of the grader's next inputs
        with pytest.raises(FileExistsError):
            write_new(folder, "planted.npz", b"inputs")
    finally:
        os.close(folder)
    assert from_bytes(secret.read_bytes()).values == {"leaked": 1}  # untouched


def test_a_failed_hidden_test_shows_its_lines_not_a_stack():
    failure = CheckFailed("logits shape", (32, 10), (32, 9), "the size of the last layer", step="build_model")
    lines, error = failure_outputs([failure, CheckFailed("logits dtype", "float32", "float64", step="build_model")])
    line = "step 3 (build_model): logits shape — expected (32, 10), found (32, 9). Look at: the size of the last layer."
    assert lines.name == "stderr" and lines.text == f"✗ {line}\n✗ step 3 (build_model): logits dtype — expected float32, found float64.\n"
    assert error.output_type == "error" and error.ename == "CheckFailed" and error.evalue.splitlines()[0] == line
    assert error.traceback == ["CheckFailed: a hidden test failed (the ✗ lines above)"]


# Judging in threads ------------------------------------------------------------------------------------------------
class Cycle:
    """Garbage that only the collector frees, running Python code when it does: the collector runs inside whatever
    allocation crosses its threshold, a tree's construction included, and its finalizers let the GIL pass."""

    def __init__(self):
        self.me = self

    def __del__(self):
        sum(range(20))


def read_in_threads(threads: int = 3, rounds: int = 1000) -> list[str]:
    """Observations and hidden calls read by `threads` threads at once, `rounds` each, as the runner's jobs read them
    (under frequent collections and thread switches); what each read that failed raised."""
    data = to_bytes(Observation({"logits": np.zeros((8, 10), np.float32), "loss": 0.5}))
    source = 'check.public("train", train)\n### BEGIN HIDDEN TESTS\ngrade("torch", "digits", "train", train)\n### END HIDDEN TESTS'
    failed = []

    def read_many():
        for _ in range(rounds):
            for _ in range(20):
                Cycle()
            try:
                assert from_bytes(data).values["loss"] == 0.5 and HiddenCall.parse(source).step == "train"
            except Exception as error:
                failed.append(f"{type(error).__name__}: {error}")

    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(50, 5, 5)
    sys.setswitchinterval(1e-6)
    try:
        readers = [threading.Thread(target=read_many) for _ in range(threads)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)
    return failed


def test_observations_and_hidden_calls_read_in_threads_never_fail():
    threads, rounds = 3, 1000
    failed = read_in_threads(threads, rounds)
    assert failed == [], f"{len(failed)} of {threads * rounds} reads failed, e.g. {failed[0]}"


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="CPython 3.11 alone builds syntax trees with one shared count")
def test_control_without_the_lock_reads_in_threads_fail(monkeypatch):
    """The lock off (its two users' references to it): reads fail as students' checks once did, on an array's header."""
    for module in (observation, verdict):
        monkeypatch.setattr(module, "AST_LOCK", contextlib.nullcontext())
    for tries in range(1, 21):  # a race: on a loaded machine a round may see none (9 failed reads of 3,000 on two busy cores)
        failed = read_in_threads()
        if failed:
            break
    assert any("recursion depth mismatch" in line or "(SystemError)" in line for line in failed), (
        f"no read failed without the lock in {tries} rounds ({failed[:3]}): does Python {sys.version.split()[0]} "
        "still need it?")
