"""One adapter per framework, each turning that framework's objects into NumPy for the checks.

Every adapter module (`tf1`, `tf2`, `torch`) defines the same names:

- ``NAME``, ``setup(seed) -> device str``, ``seed(seed)``, ``checking()`` (a context manager the checks run in);
- data: ``first_batch(batches) -> (x, y)``, ``collect(batches) -> (x, y)``,
  ``count_examples(batches) -> int``, ``count_batches(batches) -> int`` (all NumPy),
  ``check_batch(batches) -> str`` (the batches hold what the framework's other steps take; raises CheckFailed);
- models: ``check_model(model) -> str`` (raises CheckFailed), ``predict(model, x) -> logits``,
  ``parameter_count(model) -> int``, ``static_shapes(model) -> {name: shape}`` (TF1 only, else
  empty), ``close(model)`` (frees a TF1 session);
- steps: ``loss_value(loss, model, x, y) -> float``, ``loss_on(loss, model, x, predictions, y)`` (the loss
  given `predictions` in place of the model's logits), ``check_optimizer(optimizer, model) -> str``,
  ``metric_value(accuracy_fn, logits, labels) -> value`` (as the function returns it: a tensor in TF2 and
  PyTorch, a NumPy value in TF1), ``check_metric_type(value) -> str``, ``probe_loss(loss)`` (the loss
  wrapped so that it counts its calls and what they computed: ``.calls``, ``.computed(steps)``; None in TF1);
- the contract's objects, built from data for the probe (`graders.probe`): ``contract_model(weights)``
  (standard layers holding `graders.checks.network`'s canonical weights), ``weights_of(model)``,
  ``contract_batches(x, y, batch_size, shuffle, seed)``, ``course_training(model, learning_rate) -> (loss,
  optimizer)``, ``course_accuracy(logits, labels)``, ``loss_gradient(loss, model, logits, y)``,
  ``course_train(model, loss, optimizer, batches, epochs) -> losses`` (the course's training loop).

The adapters run in the kernel; the verdicts are `graders.judge`'s, on the values they hand back.

Only the adapter that is loaded imports its framework: a PyTorch notebook never imports TensorFlow.
"""

import importlib

FRAMEWORKS = ("tf1", "tf2", "torch")


def load(framework: str):
    """The adapter module for 'tf1', 'tf2' or 'torch'."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; expected one of {', '.join(FRAMEWORKS)}")
    return importlib.import_module(f"graders.frameworks.{framework}")
