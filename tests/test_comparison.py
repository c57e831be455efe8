"""Assignment 4, framework_comparison: the reference agrees with itself across frameworks and passes
every check; typical wrong solutions fail with a message that points at the mistake.

Every verdict here goes through what the grader reads at grading: the kernel's values written as
an observation file and read back (`graders.check.shared.observation`), then judged (the `check` fixture).
"""

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import torch
from copies import student_copy

from graders.check.comparison import ComparisonChecks
from graders.check.front import placed
from graders.check.kernel import comparison_probe
from graders.check.shared.checks import CheckFailed
from graders.check.shared.observation import Observation, arrays_to_bytes, from_bytes, to_bytes
from graders.check.trusted import comparison_inputs, comparison_judge
from graders.check.trusted.comparison_judge import ComparisonCase
from graders.runner.sandbox import KERNEL_SIDE
from solutions import comparison as ref

v1 = tf.compat.v1

own = student_copy("solutions.comparison")  # the reference's text, not its code objects: what a student may hand in
REFERENCE = {
    "weights_to_torch": (own.numpy_to_torch, own.torch_to_numpy),
    "weights_to_keras": (own.numpy_to_keras, own.keras_to_numpy),
    "same_logits": (own.tf1_mlp, own.logits_in_three_frameworks),
    "pad_batch": (own.pad_batch,),
    "static_bag": (own.masked_mean, own.static_bag),
    "dynamic_bag": (own.torch_bag, own.dynamic_bag),
}


@pytest.fixture(scope="module")
def check():
    """The notebook's checker, whose observations make the round trip through the file the grader reads."""
    observe = comparison_probe.observe

    def through_the_file(*args, **kwargs):
        return from_bytes(to_bytes(observe(*args, **kwargs)))

    comparison_probe.observe = through_the_file
    try:
        yield ComparisonChecks()
    finally:
        comparison_probe.observe = observe


@pytest.fixture
def no_solutions(monkeypatch):
    """`import solutions` fails meanwhile, as in the grading sandbox and the students' install."""
    for name in [n for n in sys.modules if n == "solutions" or n.startswith("solutions.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "solutions", None)


def fails(check, step, *objects, match, public=False):
    """Assert the hidden checks (or only the public ones) reject `objects` with a message matching `match`."""
    if public:
        verdict = check.verdict(step, *objects, hidden=False)
        assert verdict.failures, "the public checks passed a wrong solution"
        failure = CheckFailed.combine(verdict.failures)
    else:
        with pytest.raises(CheckFailed) as caught:
            check.hidden(step, *objects)
        failure = caught.value
    assert match in str(failure), str(failure)
    return str(failure)


# The reference itself --------------------------------------------------------------------------
def test_three_frameworks_agree_with_numpy():
    weights = ref.random_weights(7, 5, 4, seed=5)
    x = np.random.default_rng(5).normal(size=(9, 7)).astype(np.float32)
    logits = ref.logits_in_three_frameworks(weights, x)
    assert set(logits) == {"tf1", "tf2", "torch"}
    for framework, values in logits.items():
        assert values.dtype == np.float32 and values.shape == (9, 4), framework
        np.testing.assert_allclose(values, ref.numpy_mlp(weights, x), rtol=1e-5, atol=1e-6, err_msg=framework)


def test_weights_round_trip_exactly():
    weights = ref.random_weights(6, 5, 3, seed=6)
    for read in (ref.torch_to_numpy(ref.torch_mlp(weights)), ref.keras_to_numpy(ref.tf2_mlp(weights))):
        assert set(read) == set(weights)
        for name in weights:
            assert read[name].dtype == np.float32
            np.testing.assert_array_equal(read[name], weights[name])
    assert ref.torch_mlp(weights).hidden.weight.shape == (5, 6)  # nn.Linear: (out, in)


def test_pad_batch():
    ids, mask = ref.pad_batch([[3, 0], [5, 6, 7], [8]], pad_id=0, max_len=4)
    np.testing.assert_array_equal(ids, [[3, 0, 0, 0], [5, 6, 7, 0], [8, 0, 0, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]])
    assert ids.dtype == np.int64 and mask.dtype == np.float32
    with pytest.raises(ValueError):
        ref.pad_batch([[1, 2, 3]], max_len=2)


def test_static_padded_masked_equals_dynamic():
    rng = np.random.default_rng(7)
    weights = ref.bag_weights(20, 6, 4, seed=7)
    sequences = [list(rng.integers(0, 20, rng.integers(1, 11))) for _ in range(12)]
    model = ref.static_bag(weights, max_len=10)
    try:
        static = ref.run_static_bag(model, sequences)
    finally:
        model.session.close()
    dynamic = ref.dynamic_bag(weights, sequences)
    assert static.shape == dynamic.shape == (12, 4)
    np.testing.assert_allclose(static, dynamic, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dynamic, ref.numpy_bag(weights, sequences), rtol=1e-5, atol=1e-6)


def test_tracing_once_per_signature():
    weights = ref.bag_weights()
    assert ref.count_traces(weights, [3, 5, 7, 5, 3], with_signature=False) == 3
    assert ref.count_traces(weights, [3, 5, 7, 5, 3], with_signature=True) == 1
    times = ref.seconds_per_batch(weights, [[[1, 2], [3]], [[4, 5, 6]], [[7]]], max_len=4)
    assert len(times) == 5 and all(t > 0 for t in times.values())


@pytest.mark.parametrize("step", list(REFERENCE))
def test_reference_passes_every_check_silently_without_solutions(check, step, capsys, no_solutions):
    """Neither the probe nor the judge needs the reference: the checks are the same in the grading sandbox."""
    check.public(step, *REFERENCE[step])
    check.hidden(step, *REFERENCE[step])
    out, err = capsys.readouterr()
    assert err == ""
    assert "✓" in out and "✗" not in out


def test_the_graders_figures_are_the_given_codes():
    """The grader's NumPy ground truth is the notebook's given code (the reference's), on every case it checks; the
    padded rectangles (`comparison_inputs.pad`) are the reference's pad_batch's."""
    for sizes, seed in (((6, 5, 3), 1), ((4, 4, 4), 2), ((6, 5, 3), 3), ((4, 4, 4), 4)):
        for name, array in ref.random_weights(*sizes, seed=seed).items():
            np.testing.assert_array_equal(comparison_judge.random_weights(*sizes, seed=seed)[name], array)
    x = np.random.default_rng(0).normal(size=(7, 6)).astype(np.float32)
    weights = ref.random_weights(6, 5, 3, seed=0)
    np.testing.assert_array_equal(comparison_judge.numpy_mlp(weights, x), ref.numpy_mlp(weights, x))
    for name, (vocab, embed, classes, seed) in comparison_inputs.BAGS.items():
        weights = ref.bag_weights(vocab, embed, classes, seed=seed)
        weights["embedding"][0] = 4.0
        for key, array in comparison_inputs.checked_bag_weights(name).items():
            np.testing.assert_array_equal(array, weights[key])
        for _, sequences in comparison_inputs.BAG_CALLS.values():
            np.testing.assert_array_equal(comparison_judge.numpy_bag(weights, sequences), ref.numpy_bag(weights, sequences))
    graphs = [(sequences, 0, max_len) for _, max_len, sequences in comparison_inputs.BAG_GRAPHS.values()]
    for sequences, pad_id, max_len in [*comparison_inputs.PAD_CASES.values(), *graphs]:
        for mine, theirs in zip(comparison_inputs.pad(sequences, pad_id, max_len), ref.pad_batch(sequences, pad_id, max_len)):
            assert mine.dtype == theirs.dtype
            np.testing.assert_array_equal(mine, theirs)


def test_inputs_are_plain_data():
    """What the grader writes for the kernel: numeric or string arrays, which np.load reads without pickle."""
    case = ComparisonCase()
    for step in ComparisonChecks.STEPS:
        for hidden in (False, True):
            inputs = case.inputs(step, hidden)
            assert inputs and all(isinstance(a, np.ndarray) and a.dtype.kind in "biufU" for a in inputs.values()), step


@pytest.mark.parametrize("step", list(REFERENCE))
def test_nothing_from_the_kernel_passes_nothing(step):
    """A kernel that hands back no values (a patched probe, a kernel that died) fails every step."""
    case = ComparisonCase()
    for observation in (Observation(), Observation(stopped={"key": "gone"})):
        verdict = case.judge(step, case.inputs(step, True), observation, hidden=True)
        assert verdict.failures and not verdict.passed, step
        assert "the grader received no" in verdict.failures[0].line(), verdict.failures[0].line()


def test_a_failure_the_kernel_met_costs_even_where_no_check_looks():
    case, step = ComparisonCase(), "pad_batch"
    inputs = case.inputs(step, hidden=False)
    observation = comparison_probe.observe("comparison", step, (own.pad_batch,), inputs, hidden=False)
    assert case.judge(step, inputs, observation, hidden=False).ok
    observation.failed("elsewhere", CheckFailed("a contract point", "one thing", "another"))
    verdict = case.judge(step, inputs, observation, hidden=False)
    assert [f.line() for f in verdict.failures] == ["pad_batch: a contract point — expected one thing, found another."]


# The grading kernel: the kernel's side of graders only -----------------------------------------------
def judges(module: str, name: str):
    """A student's stub that calls `name` of `module` (importable in the students' install) when it is called."""
    import importlib

    return lambda *args, **kwargs: getattr(importlib.import_module(module), name)(*args, **kwargs)


STUBS = {  # steps where a stub calling the grader's figures, beside the reference's other object, would pass
    "same_logits": ("own.tf1_mlp", "lambda weights, x: {name: judges('graders.check.trusted.comparison_judge', 'numpy_mlp')(weights, x) "
                                   "for name in ('tf1', 'tf2', 'torch')}"),
    "pad_batch": ("judges('graders.check.trusted.comparison_inputs', 'pad')",),
    "dynamic_bag": ("own.torch_bag", "judges('graders.check.trusted.comparison_judge', 'numpy_bag')"),
}
GRADING_KERNEL = r"""
import importlib.abc, inspect, json, sys
kernel_side, folder, tests = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, tests)
from copies import student_copy
own = student_copy("solutions.comparison")  # the reference as a student typed it, before solutions is out of reach


class GradingKernel(importlib.abc.MetaPathFinder):  # of the course's packages, what the grading sandbox binds; no solutions

    def find_spec(self, name, path, target=None):
        parts = name.split(".")
        inside = "/".join(parts[1:])
        bound = parts[0] != "graders" or not inside or any(
            f == part or f.startswith(part + "/") for f in (inside + ".py", inside + "/__init__.py") for part in kernel_side)
        if parts[0] == "solutions" or not bound:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


for name in [n for n in sys.modules if n.split(".")[0] in ("solutions", "graders")]:
    del sys.modules[name]
sys.meta_path.insert(0, GradingKernel())
from graders.check import comparison
from graders.check.kernel import comparison_probe
from graders.check.shared.observation import arrays_from_file, write
exec(inspect.cleandoc(sys.argv[4]), globals())
comparison.ComparisonChecks()  # the notebook's setup cell
for step, names in comparison_probe.OBJECTS.items():
    inputs = arrays_from_file(f"{folder}/{step}/inputs.npz")
    write(f"{folder}/{step}/reference.npz", comparison_probe.observe("comparison", step, tuple(getattr(own, n) for n in names), inputs, True))
    if step in STUBS:
        write(f"{folder}/{step}/stubs.npz", comparison_probe.observe("comparison", step, tuple(eval(o) for o in STUBS[step]), inputs, True))
"""


def test_the_grading_kernel_holds_no_answer(tmp_path, check):
    """The kernel's side runs where only what the sandbox binds can be imported: the reference passes every step; stubs
    that call the grader's figures pass where those can be imported (the grader's install), and earn nothing there."""
    case = ComparisonCase()
    for step in ComparisonChecks.STEPS:
        (tmp_path / step).mkdir()
        inputs = case.inputs(step, True) | placed(case.files(step, True), str(tmp_path / step))
        (tmp_path / step / "inputs.npz").write_bytes(arrays_to_bytes(inputs))
    definitions = f"{inspect.getsource(judges)}\nSTUBS = {STUBS!r}"
    done = subprocess.run([sys.executable, "-c", GRADING_KERNEL, json.dumps(list(KERNEL_SIDE)), str(tmp_path),
                           str(Path(__file__).parent), definitions], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    for step in ComparisonChecks.STEPS:
        observation = from_bytes((tmp_path / step / "reference.npz").read_bytes())
        verdict = case.judge(step, case.inputs(step, True), observation, hidden=True)
        assert verdict.ok, (step, [f.line() for f in verdict.failures])
    for step, objects in STUBS.items():
        stubs = tuple(eval(o) for o in objects)
        assert check.verdict(step, *stubs, hidden=True).ok, f"control: the stubs of {step} pass where the grader's figures can be imported"
        verdict = case.judge(step, case.inputs(step, True), from_bytes((tmp_path / step / "stubs.npz").read_bytes()), hidden=True)
        module = objects[-1].split("'")[1]  # judges('<module>', ...)
        missing = re.search(r"No module named '([\w.]+)'", verdict.failures[0].line()) if not verdict.ok else None
        assert missing and f"{module}.".startswith(f"{missing[1]}."), (step, verdict.failures[0].line())  # it, or its package


def test_the_models_handed_out_are_the_graders_files(check):
    """numpy_to_torch and numpy_to_keras fill models the grader saved, holding weights of its own (not built here)."""
    held = {}

    def numpy_to_torch(weights, module):
        held.setdefault("torch", own.torch_to_numpy(module))
        return own.numpy_to_torch(weights, module)

    def numpy_to_keras(weights, model):
        held.setdefault("keras", own.keras_to_numpy(model))
        return own.numpy_to_keras(weights, model)

    check.hidden("weights_to_torch", numpy_to_torch, own.torch_to_numpy)
    check.hidden("weights_to_keras", numpy_to_keras, own.keras_to_numpy)
    before = comparison_judge.random_weights(6, 5, 3, seed=comparison_judge.FILLED_SEED)
    for framework in ("torch", "keras"):
        for name, array in before.items():
            np.testing.assert_array_equal(held[framework][name], array, err_msg=f"{framework} {name}")


# The notebook API -------------------------------------------------------------------------------
def test_public_never_raises_and_reports_on_stderr(check, capsys):
    def unfilled(*args, **kwargs):
        raise NotImplementedError()

    check.public("pad_batch", unfilled)
    check.public("weights_to_torch", own.numpy_to_torch)  # one object short
    check.public("no_such_step", unfilled)
    out, err = capsys.readouterr()
    assert err.count("✗") == 3
    assert "not written yet" in err and "keep the test cell as given" in err


def test_hidden_raises_assertion_error(check):
    with pytest.raises(AssertionError, match="not written yet"):
        check.hidden("pad_batch", lambda *a, **k: (_ for _ in ()).throw(NotImplementedError()))


def test_objects_the_notebook_lacks(check, capsys):
    check.public("pad_batch", None)
    check.public("weights_to_torch", own.numpy_to_torch, 3)
    _, err = capsys.readouterr()
    assert "pad_batch: pad_batch, defined in the notebook — expected a function, found nothing. " in err, err
    assert "Look at: run the cell that defines pad_batch first." in err
    assert "torch_to_numpy, defined in the notebook — expected a function, found int" in err, err


def test_a_step_that_imports_the_reference_fails_where_there_is_none(check, no_solutions):
    """In the grading sandbox `solutions` cannot be imported: a step that needs it fails like any error."""

    def dynamic_bag(weights, sequences):
        from solutions.comparison import dynamic_bag

        return dynamic_bag(weights, sequences)

    message = fails(check, "dynamic_bag", own.torch_bag, dynamic_bag, match="dynamic_bag to run without an error", public=True)
    assert "ImportError" in message or "ModuleNotFoundError" in message, message


def test_guard_turns_errors_into_one_stderr_line(check, capsys):
    with check.guard("the demo"):
        raise NotImplementedError()
    with check.guard("the demo"):
        raise ValueError("boom")
    with check.guard("the demo"):
        print("fine")
    out, err = capsys.readouterr()
    assert out == "fine\n"
    assert err.count("✗ the demo stopped") == 2 and "ValueError: boom" in err


# Wrong solutions: weights -----------------------------------------------------------------------
def to_torch(transpose=True, no_grad=True, reshape=False, replace=False, return_module=True):
    def numpy_to_torch(weights, module):
        for name in ("hidden", "logits"):
            linear, kernel = getattr(module, name), torch.as_tensor(weights[f"{name}/kernel"])
            kernel = kernel.reshape(kernel.shape[::-1]) if reshape else kernel.T if transpose else kernel
            if replace:
                linear.weight = torch.nn.Parameter(kernel)
                continue
            if no_grad:
                with torch.no_grad():
                    linear.weight.copy_(kernel)
            else:
                linear.weight.copy_(kernel)
            with torch.no_grad():
                linear.bias.copy_(torch.as_tensor(weights[f"{name}/bias"]))
        return module if return_module else None

    return numpy_to_torch


def from_torch(transpose=True, copy=True, detach=True):
    def torch_to_numpy(module):
        out = {}
        for name in ("hidden", "logits"):
            linear = getattr(module, name)
            weight, bias = (linear.weight.detach(), linear.bias.detach()) if detach else (linear.weight, linear.bias)
            kernel = weight.numpy().T if transpose else weight.numpy()
            out[f"{name}/kernel"], out[f"{name}/bias"] = (kernel.copy(), bias.numpy().copy()) if copy else (kernel, bias.numpy())
        return out

    return torch_to_numpy


def test_forgotten_transpose_raises_in_public(check):
    message = fails(check, "weights_to_torch", to_torch(transpose=False), own.torch_to_numpy, match="did you transpose", public=True)
    assert "expected" in message and "found" in message


def test_forgotten_transpose_on_square_layers_caught_by_values(check):
    # Square layers: copy_ succeeds, only the values are wrong.
    def square_only(weights, module):
        return (to_torch(transpose=False) if weights["hidden/kernel"].shape == (4, 4) else own.numpy_to_torch)(weights, module)

    fails(check, "weights_to_torch", square_only, own.torch_to_numpy, match="raises no shape error")


def test_reshape_is_not_transpose(check):
    fails(check, "weights_to_torch", to_torch(reshape=True), own.torch_to_numpy, match="it is not a transpose", public=True)


def test_copy_without_no_grad(check):
    fails(check, "weights_to_torch", to_torch(no_grad=False), own.torch_to_numpy, match="torch.no_grad()", public=True)


def test_new_parameters_instead_of_in_place_copy(check):
    fails(check, "weights_to_torch", to_torch(replace=True), own.torch_to_numpy, match="new parameter objects", public=True)


def test_numpy_to_torch_must_return_the_module(check):
    fails(check, "weights_to_torch", to_torch(return_module=False), own.torch_to_numpy, match="return module", public=True)


def test_torch_to_numpy_mistakes(check):
    fails(check, "weights_to_torch", own.numpy_to_torch, from_torch(transpose=False), match="transpose nn.Linear's", public=True)
    fails(check, "weights_to_torch", own.numpy_to_torch, from_torch(detach=False), match=".detach()", public=True)
    # Views pass the public checks; the hidden check changes the parameters afterwards.
    assert check.verdict("weights_to_torch", own.numpy_to_torch, from_torch(copy=False), hidden=False).ok
    fails(check, "weights_to_torch", own.numpy_to_torch, from_torch(copy=False), match="shares memory")


def test_keras_needs_no_transpose(check):
    def transposing(weights, model):
        for name in ("hidden", "logits"):
            model.get_layer(name).kernel.assign(weights[f"{name}/kernel"].T)
            model.get_layer(name).bias.assign(weights[f"{name}/bias"])
        return model

    fails(check, "weights_to_keras", transposing, own.keras_to_numpy, match="no transpose here", public=True)

    def transposing_square(weights, model):
        return (transposing if weights["hidden/kernel"].shape == (4, 4) else own.numpy_to_keras)(weights, model)

    fails(check, "weights_to_keras", transposing_square, own.keras_to_numpy, match="no transpose here")


def test_keras_to_numpy_returns_arrays(check):
    def tensors(model):
        return {f"{n}/{k}": getattr(model.get_layer(n), k).value for n in ("hidden", "logits") for k in ("kernel", "bias")}

    fails(check, "weights_to_keras", own.numpy_to_keras, tensors, match="np.ndarray", public=True)


# Wrong solutions: the TF1 MLP and the three frameworks ------------------------------------------
def tf1_variant(relu=True, initialise=True, constants=False, batch=None):
    def tf1_mlp(weights):
        graph = tf.Graph()
        with graph.as_default():
            inputs = v1.placeholder(tf.float32, (batch, weights["hidden/kernel"].shape[0]))
            x = inputs
            for name in ("hidden", "logits"):
                make = (lambda a, n: tf.constant(a, name=n)) if constants else (lambda a, n: v1.get_variable(n, initializer=a))
                with v1.variable_scope(name):
                    kernel, bias = make(weights[f"{name}/kernel"], "kernel"), make(weights[f"{name}/bias"], "bias")
                x = tf.matmul(x, kernel) + bias
                x = tf.nn.relu(x) if name == "hidden" and relu else x
            session = v1.Session(graph=graph)
            if initialise:
                session.run(v1.global_variables_initializer())
        return own.TF1MLP(graph, inputs, x, session)

    return tf1_mlp


def test_tf1_mlp_mistakes(check):
    fails(check, "same_logits", tf1_variant(relu=False), own.logits_in_three_frameworks, match="needs its ReLU", public=True)
    fails(check, "same_logits", tf1_variant(initialise=False), own.logits_in_three_frameworks,
          match="global_variables_initializer", public=True)
    fails(check, "same_logits", tf1_variant(batch=5), own.logits_in_three_frameworks, match="None for the batch axis",
          public=True)
    fails(check, "same_logits", tf1_variant(constants=True), own.logits_in_three_frameworks, match="cannot be trained")


def test_three_frameworks_must_return_arrays(check):
    def tensors(weights, x):
        logits = own.logits_in_three_frameworks(weights, x)
        logits["torch"] = torch.as_tensor(logits["torch"])
        return logits

    fails(check, "same_logits", own.tf1_mlp, tensors, match=".detach().cpu().numpy()", public=True)

    def missing(weights, x):
        return {k: v for k, v in own.logits_in_three_frameworks(weights, x).items() if k != "tf2"}

    fails(check, "same_logits", own.tf1_mlp, missing, match="keys", public=True)


# Wrong solutions: padding and masks -------------------------------------------------------------
def test_pad_batch_mistakes(check):
    def mask_from_ids(sequences, pad_id=0, max_len=None):
        ids, _ = own.pad_batch(sequences, pad_id, max_len)
        return ids, (ids != pad_id).astype(np.float32)

    fails(check, "pad_batch", mask_from_ids, match="from the lengths", public=True)

    def zero_padding(sequences, pad_id=0, max_len=None):
        ids, mask = own.pad_batch(sequences, 0, max_len)
        return ids, mask

    fails(check, "pad_batch", zero_padding, match="pad with pad_id=7")

    def inverted(sequences, pad_id=0, max_len=None):
        ids, mask = own.pad_batch(sequences, pad_id, max_len)
        return ids, 1.0 - mask

    fails(check, "pad_batch", inverted, match="not the other way round", public=True)

    def float64_mask(sequences, pad_id=0, max_len=None):
        ids, mask = own.pad_batch(sequences, pad_id, max_len)
        return ids, mask.astype(np.float64)

    fails(check, "pad_batch", float64_mask, match="dtype float32", public=True)

    def longest_only(sequences, pad_id=0, max_len=None):
        return own.pad_batch(sequences, pad_id)

    fails(check, "pad_batch", longest_only, match="pad to max_len=7")

    def truncating(sequences, pad_id=0, max_len=None):
        return own.pad_batch([s[:max_len] for s in sequences] if max_len else sequences, pad_id, max_len)

    fails(check, "pad_batch", truncating, match="raise ValueError")


def test_masked_mean_mistakes(check):
    def plain_mean(embedded, mask):
        return tf.reduce_mean(embedded, axis=1)

    fails(check, "static_bag", plain_mean, own.static_bag, match="padding included", public=True)

    def divide_by_t(embedded, mask):
        return tf.reduce_sum(embedded * mask[:, :, tf.newaxis], axis=1) / tf.cast(tf.shape(mask)[1], tf.float32)

    fails(check, "static_bag", divide_by_t, own.static_bag, match="not by T", public=True)

    def static_width(embedded, mask):
        return tf.reduce_sum(embedded * mask[:, :, tf.newaxis], axis=1) / tf.reduce_sum(mask, axis=1, keepdims=True) * (
            embedded.shape[1] / embedded.shape[1]
        )

    fails(check, "static_bag", static_width, own.static_bag, match="no static T")


def test_static_bag_without_mask(check):
    def unmasked_graph(weights, max_len):
        model = own.static_bag(weights, max_len)
        with model.graph.as_default():
            variables = {v.op.name: v for v in v1.global_variables()}
            embedding, kernel, bias = (variables[n] for n in ("embedding", "logits/kernel", "logits/bias"))
            mean = tf.reduce_mean(tf.nn.embedding_lookup(embedding, model.ids), axis=1)
            logits = tf.matmul(mean, kernel) + bias
        return model._replace(logits=logits)

    fails(check, "static_bag", own.masked_mean, unmasked_graph, match="the padding (id 0) went into the mean", public=True)

    def int32_ids(weights, max_len):
        model = own.static_bag(weights, max_len)
        with model.graph.as_default():
            ids = v1.placeholder(tf.int32, (None, max_len))
        return model._replace(ids=ids)

    fails(check, "static_bag", own.masked_mean, int32_ids, match="dtype int64", public=True)


# Wrong solutions: the dynamic bag ---------------------------------------------------------------
def test_dynamic_bag_mistakes(check):
    def untransposed_on_square(weights):
        bag = own.torch_bag(weights)
        if weights["logits/kernel"].shape[0] == weights["logits/kernel"].shape[1]:
            with torch.no_grad():
                bag.logits.weight.copy_(torch.as_tensor(weights["logits/kernel"]))
        return bag

    fails(check, "dynamic_bag", untransposed_on_square, own.dynamic_bag, match="did you transpose")

    class SumBag(own.TorchBag):
        def forward(self, sequences):
            return self.logits(torch.stack([self.embedding(ids).sum(dim=0) for ids in sequences]))

    def sum_bag(weights):
        bag = SumBag(*weights["embedding"].shape, weights["logits/kernel"].shape[1])
        bag.load_state_dict(own.torch_bag(weights).state_dict())
        return bag

    fails(check, "dynamic_bag", sum_bag, own.dynamic_bag, match="the mean over each sequence's tokens", public=True)

    class CutBag(own.TorchBag):
        def forward(self, sequences):
            means = [self.embedding(ids).mean(dim=0).detach().numpy() for ids in sequences]
            return self.logits(torch.as_tensor(np.stack(means))).detach()

    def cut_bag(weights):
        bag = CutBag(*weights["embedding"].shape, weights["logits/kernel"].shape[1])
        bag.load_state_dict(own.torch_bag(weights).state_dict())
        return bag

    fails(check, "dynamic_bag", cut_bag, own.dynamic_bag, match="the graph was cut")

    def returns_tensor(weights, sequences):
        return torch.as_tensor(own.dynamic_bag(weights, sequences))

    fails(check, "dynamic_bag", own.torch_bag, returns_tensor, match=".detach().cpu().numpy()", public=True)


# The students' install ----------------------------------------------------------------------------
def test_the_students_install_reads_the_inputs_and_answers_its_wheel_carries(check, tmp_path, monkeypatch, capsys):
    """Without `graders.check.trusted.comparison_inputs` (left out of the students' wheel), the judge reads the public inputs and answers
    that `comparison_inputs.package` wrote when the wheel was built: the self-checks print the same ✓ and ✗ lines."""

    def inverted(sequences, pad_id=0, max_len=None):
        ids, mask = own.pad_batch(sequences, pad_id, max_len)
        return ids, 1.0 - mask

    def plain_mean(embedded, mask):
        return tf.reduce_mean(embedded, axis=1)

    calls = list(REFERENCE.items()) + [
        ("weights_to_torch", (to_torch(transpose=False), own.torch_to_numpy)),
        ("weights_to_keras", (lambda weights, model: model, own.keras_to_numpy)),
        ("same_logits", (tf1_variant(relu=False), own.logits_in_three_frameworks)),
        ("pad_batch", (inverted,)),
        ("static_bag", (plain_mean, own.static_bag)),
        ("dynamic_bag", (own.torch_bag, lambda weights, sequences: 2 * own.dynamic_bag(weights, sequences))),
    ]

    def printed():
        for step, objects in calls:
            check.public(step, *objects)
            yield capsys.readouterr()

    staff = list(printed())
    assert [out.startswith("✓") for out, _ in staff] == [True] * len(REFERENCE) + [False] * (len(calls) - len(REFERENCE))
    assert all(err.startswith("✗") for _, err in staff[len(REFERENCE):]), staff
    comparison_inputs.package(tmp_path)
    monkeypatch.setitem(sys.modules, "graders.check.trusted.comparison_inputs", None)
    monkeypatch.setattr(comparison_judge, "PACKAGED_INPUTS", tmp_path)
    assert list(printed()) == staff
    with pytest.raises(CheckFailed, match="the hidden checks run when the notebook is graded"):
        check.hidden("pad_batch", own.pad_batch)
    # the control: without what the wheel carries, nothing computes them
    monkeypatch.setattr(comparison_judge, "PACKAGED_INPUTS", tmp_path / "nothing")
    check.public("pad_batch", own.pad_batch)
    assert capsys.readouterr().err.startswith("✗ the checks of pad_batch are not in this install.")
