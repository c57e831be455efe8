"""The three reference pipelines: same contracts, accurate, repeatable."""

import math

import numpy as np
import pytest

from course.data import load_dataset
from course.pipeline import HYPERPARAMETERS, Hyperparameters
from solutions.pipeline import FRAMEWORKS, load_framework, run

ALL = list(FRAMEWORKS)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def as_numpy(value):
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def first_batch(batches):
    x, y = next(iter(batches))
    return as_numpy(x), as_numpy(y)


def count(batches) -> int:
    return sum(len(as_numpy(y)) for _, y in batches)


@pytest.mark.parametrize("framework", ALL)
def test_download_is_step_one_everywhere(framework, digits):
    raw = load_framework(framework).download("digits")
    assert len(raw) == len(digits) == 4
    for got, expected in zip(raw, digits, strict=True):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("framework", ALL)
def test_preprocessing_contract(framework, digits):
    splits = load_framework(framework).load_and_preprocess(digits, batch_size=32, validation_size=0.1, seed=0)
    x, y = first_batch(splits.train)
    assert x.shape == (32, 64) and x.dtype == np.float32
    assert y.shape == (32,) and y.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0
    n_validation = round(0.1 * len(digits.x_train))
    assert count(splits.validation) == n_validation
    assert count(splits.train) == len(digits.x_train) - n_validation
    assert count(splits.test) == len(digits.x_test)


@pytest.mark.parametrize("framework", ALL)
def test_untrained_model_gives_ln10_loss_and_known_parameter_count(framework, digits):
    pipeline = load_framework(framework)
    splits = pipeline.load_and_preprocess(digits, batch_size=64)
    model = pipeline.build_model(64, hidden_units=128)
    assert pipeline.count_parameters(model) == 64 * 128 + 128 + 128 * 10 + 10
    loss, optimizer = pipeline.make_loss_and_optimizer(model, learning_rate=1e-3)
    history = pipeline.train(model, loss, optimizer, splits.train, epochs=1)
    assert len(history) == math.ceil((len(digits.x_train) - round(0.1 * len(digits.x_train))) / 64)
    assert all(isinstance(v, float) and math.isfinite(v) for v in history)
    assert abs(history[0] - math.log(10)) < 0.3  # an untrained 10-class model is near-uniform


@pytest.mark.parametrize("framework", ALL)
def test_accuracy_metric_on_fixed_predictions(framework):
    pipeline = load_framework(framework)
    logits = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6], [0.6, 0.4]], np.float32)
    labels = np.array([0, 1, 1, 1, 0], np.int64)  # 4 of 5 right
    if framework == "tf1":
        import tensorflow as tf

        with tf.Graph().as_default() as graph:
            op = pipeline.accuracy(tf.constant(logits), tf.constant(labels))
        with tf.compat.v1.Session(graph=graph) as session:
            value = session.run(op)
    elif framework == "tf2":
        import tensorflow as tf

        value = pipeline.accuracy(tf.constant(logits), tf.constant(labels)).numpy()
    else:
        import torch

        value = pipeline.accuracy(torch.from_numpy(logits), torch.from_numpy(labels)).item()
    assert value == pytest.approx(0.8)


@pytest.mark.parametrize("framework", ALL)
def test_digits_reaches_target_and_is_repeatable(framework, digits):
    hp = HYPERPARAMETERS["digits"]
    first, second = run(framework, digits, hp), run(framework, digits, hp)
    assert first.test_accuracy >= 0.95, first.summary()
    assert first.losses == second.losses, "same seed, same loss history"
    assert np.mean(first.losses[-20:]) < 0.2 * np.mean(first.losses[:20])


@pytest.mark.parametrize("framework", ALL)
def test_another_seed_gives_another_run(framework, digits):
    hp = Hyperparameters(**{**HYPERPARAMETERS["digits"].__dict__, "epochs": 1})
    other = Hyperparameters(**{**hp.__dict__, "seed": 1})
    assert run(framework, digits, hp).losses != run(framework, digits, other).losses


@pytest.mark.slow
@pytest.mark.parametrize("framework", ALL)
def test_real_mnist_split_reaches_target(framework, mnist_split):
    result = run(framework, mnist_split, HYPERPARAMETERS["mnist"])
    assert result.shapes["x_train"] == (8000, 28, 28)
    assert result.test_accuracy >= 0.93, result.summary()


@pytest.mark.gpu
def test_gpu_is_picked_and_shared_by_tensorflow_and_torch(digits):
    import tensorflow as tf

    from course.devices import tensorflow_device, torch_device

    assert tensorflow_device() == "/GPU:0"
    assert all(tf.config.experimental.get_memory_growth(g) for g in tf.config.list_physical_devices("GPU"))
    assert torch_device().type == "cuda"
    for framework in ALL:
        result = run(framework, digits, HYPERPARAMETERS["digits"])
        assert result.test_accuracy >= 0.95, result.summary()
    torch_model = load_framework("torch").build_model(64)
    assert next(torch_model.parameters()).is_cuda
