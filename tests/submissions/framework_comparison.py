"""Sample submissions of `framework_comparison` and the score each must get.

Grading scale: 9 autograded points and 6 graded by hand::

    weights_to_torch_tests 2   weights_to_keras_tests 1   same_logits_tests 2
    pad_batch_tests 1          static_bag_tests 2         dynamic_bag_tests 1
    q_variable_length 2, q_debugging 2, q_rebuild_cost 2   written answers: None here, left for manual grading

Unlike the pipeline steps, these checks are not all isolated from each other: `same_logits`
runs the student's `logits_in_three_frameworks`, which builds its PyTorch and Keras models with
the given `torch_mlp` / `tf2_mlp`, which call the student's `numpy_to_torch` / `numpy_to_keras`.
A copy function that raises therefore costs `same_logits` as well (see `forgot_transpose`).

The hostile samples call what a grading kernel could import before the kernel side held no answer:
the judge's NumPy figures (`graders.check.trusted.comparison_judge`: `pad`, `numpy_mlp`, `numpy_bag`), the
probe's models built from weights (`graders.check.kernel.comparison_probe._filled`), the TF1 adapter's graph
built from weights. The grading sandbox binds only the kernel's side of `graders`, which holds none
of them, so every step they touch earns nothing.
"""

from . import Sample, full_marks, hostile, reference_cell, swap, zero_marks

A = "framework_comparison"

# Plausible student answers to the written questions (the reference fills use them).
ANSWERS = {
    "q_variable_length": """
The TF1 graph is built before any data exists, so every placeholder has a fixed dtype and rank and
the ops are fixed: a Python loop over a list whose length and shapes change per batch cannot be part
of it. So I pad every sequence to max_len to get one (B, max_len) rectangle. Padding wastes memory
and compute on positions that carry nothing, and max_len has to be chosen in advance. The mask is 1
on real tokens and 0 on padding; it removes the padding from the sum and from the count, so the mean
is exactly the one the PyTorch loop computes without padding.
""",
    "q_debugging": """
In TF1, printing the mean only shows a symbolic Tensor with a shape like (?, 4); to see numbers I
have to fetch it with session.run(mean, feed_dict=...) or add tf.print to the graph. Shape errors show
up when the graph is built or later inside session.run, pointing at a node, far from my Python line.
In PyTorch forward is normal Python on real tensors: I can print(means[0].shape) or stop in pdb, and a
shape error is raised at the exact line with the actual shapes, which makes the bug much easier to find.
""",
    "q_rebuild_cost": """
Building a graph (a new TF1 graph and session, or a new tf.function trace) took milliseconds in my
timing, while running the small bag on one batch took well under a millisecond, so rebuilding every
batch was many times slower. PyTorch only records the ops as they run, which is cheap: it was a bit
slower than the graph built once because of Python overhead per sequence, but far faster than
rebuilding. An input_signature with None dimensions, or padding every batch to one max_len, keeps a
single signature, so tf.function traces once (my counts: one trace instead of one per width).
""",
}


def _ref(grade_id: str) -> str:
    return reference_cell(A, grade_id)


GRADING_KERNEL = """
import importlib

judge = lambda: importlib.import_module("graders.check.trusted.comparison_judge")
probe = lambda: importlib.import_module("graders.check.kernel.comparison_probe")
"""
# Each step a one-liner that calls what the grading kernel could import: the cells as a student would write them.
KERNEL_HELPERS = {
    "weights_to_torch": GRADING_KERNEL + """
numpy_to_torch = lambda weights, module: module.load_state_dict(probe()._filled(weights, "torch").state_dict()) or module
torch_to_numpy = lambda module: importlib.import_module("graders.check.kernel.frameworks.torch").weights_of(module)
""",
    "weights_to_keras": """
numpy_to_keras = lambda weights, model: model.set_weights(probe()._filled(weights, "keras").get_weights()) or model
keras_to_numpy = lambda model: importlib.import_module("graders.check.kernel.frameworks.tf2").weights_of(model)
""",
    "same_logits": """
tf1_mlp = lambda weights: importlib.import_module("graders.check.kernel.frameworks.tf1").contract_model(weights)
logits_in_three_frameworks = lambda weights, x: {name: judge().numpy_mlp(weights, x) for name in ("tf1", "tf2", "torch")}
""",
    "pad_batch": """
pad_batch = lambda *args, **kwargs: importlib.import_module("graders.check.trusted.comparison_inputs").pad(*args, **kwargs)
""",
    "static_bag": """
masked_mean = lambda embedded, mask: probe().masked_mean(embedded, mask)
static_bag = lambda weights, max_len: probe().static_bag(weights, max_len)
""",
    "dynamic_bag": """
torch_bag = lambda weights: probe().torch_bag(weights)
dynamic_bag = lambda weights, sequences: judge().numpy_bag(weights, sequences)
""",
}
STUBS = {"weights_to_torch": ("numpy_to_torch", "torch_to_numpy"), "weights_to_keras": ("numpy_to_keras", "keras_to_numpy"),
         "same_logits": ("tf1_mlp", "logits_in_three_frameworks"), "pad_batch": ("pad_batch",),
         "static_bag": ("masked_mean", "static_bag"), "dynamic_bag": ("torch_bag", "dynamic_bag")}
# Every step a stub, and the probe replaced by one that observes those same helpers in the stubs' place.
PATCHED_PROBE = {step: " = ".join(names) + " = lambda *args, **kwargs: None" for step, names in STUBS.items()}
PATCHED_PROBE["weights_to_torch"] = "".join(KERNEL_HELPERS.values()) + """
helpers = {name: globals()[name] for name in %r}
observe = probe().observe
probe().observe = lambda kind, step, objects, inputs, hidden: observe(
    kind, step, tuple(helpers[name] for name in importlib.import_module("graders.check.shared.comparison_contract").OBJECTS[step]), inputs, hidden)
""" % [name for names in STUBS.values() for name in names] + PATCHED_PROBE["weights_to_torch"]
NOTHING = {f"{step}_tests": 0 for step in STUBS}


SAMPLES = [
    Sample("reference", {}, full_marks(A), about="the course's own solution, with plausible written answers"),
    Sample("unfilled", {}, zero_marks(A), base="release", about="the release as handed out: every stub raises"),
    Sample(
        "forgot_transpose",
        {"weights_to_torch": swap(swap(_ref("weights_to_torch"), 'weights[f"{name}/kernel"]).T)', 'weights[f"{name}/kernel"]))'),
                                  ".numpy().T.copy()", ".numpy().copy()")},
        full_marks(A, weights_to_torch_tests=0, same_logits_tests=0),
        about="kernel copied into nn.Linear.weight (and back) without .T; torch_mlp, used by same_logits, fails too",
    ),
    Sample(
        "mask_from_ids",
        {"pad_batch": swap(_ref("pad_batch"), "        mask[row, :length] = 1.0\n", "")
         .replace("    return ids, mask", "    mask = (ids != pad_id).astype(np.float32)\n    return ids, mask")},
        full_marks(A, pad_batch_tests=0),
        about="the mask built from ids != pad_id: a real token 0 is masked out",
    ),
    Sample(
        "mean_over_padding",
        {"static_bag": swap(_ref("static_bag"), "tf.reduce_sum(embedded * mask, axis=1) / tf.reduce_sum(mask, axis=1)",
                            "tf.reduce_sum(embedded * mask, axis=1) / tf.cast(tf.shape(embedded)[1], tf.float32)")},
        full_marks(A, static_bag_tests=0),
        about="masked_mean divides the masked sum by T (padding counted in the divisor)",
    ),
    Sample(
        "reference_routes",
        {"pad_batch": "from solutions.comparison import pad_batch\n",
         "dynamic_bag": swap(_ref("dynamic_bag"), """    bag = torch_bag(weights)
    with torch.no_grad():
        return bag([torch.as_tensor(np.asarray(ids), dtype=torch.int64) for ids in sequences]).numpy()""",
                             """    import importlib

    return importlib.import_module("solutions.comparison").dynamic_bag(weights, sequences)""")},
        full_marks(A, pad_batch_tests=0, dynamic_bag_tests=0),
        about="reference code at grading: pad_batch imported from solutions, dynamic_bag importing it when called; "
        "solutions cannot be imported in the grading sandbox, so both fail there",
    ),
    *hostile(Sample(
        "kernel_helpers",
        KERNEL_HELPERS,
        full_marks(A, **NOTHING),
        about="each step a one-liner calling what the grading kernel could import: the judge's pad and NumPy logits, "
        "the probe's models built from weights, the TF1 adapter's graph; none of it is in the grading sandbox now",
    ), Sample(
        "patched_probe",
        PATCHED_PROBE,
        full_marks(A, **NOTHING),
        about="every step a stub, and graders.check.kernel.comparison_probe.observe replaced by one that observes those same helpers "
        "in the stubs' place",
    )),
]
