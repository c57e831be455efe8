"""Device and determinism helpers: the GPU when one is visible, the CPU otherwise.

One helper per framework, each importing its framework only when called, so a
PyTorch-only kernel never loads TensorFlow and vice versa.
"""

import os
import random
import sys

import numpy as np


def tensorflow_device() -> str:
    """Let TensorFlow grow GPU memory instead of taking it all; return '/GPU:0' or '/CPU:0'.

    Must run before TensorFlow first touches the GPU (any op or tensor).
    Growing memory lets TensorFlow and PyTorch share one GPU in one kernel.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised: growth was set earlier or cannot change now
            pass
    return "/GPU:0" if gpus else "/CPU:0"


def tensorflow_session_config():
    """A `tf.compat.v1.ConfigProto` for TF1 sessions: grow GPU memory, keep op placement soft."""
    import tensorflow as tf

    config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
    config.gpu_options.allow_growth = True
    return config


def torch_device():
    """`torch.device('cuda')` when a CUDA GPU is visible, else `torch.device('cpu')`."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_tensorflow(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow ops deterministic."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)  # seeds python, numpy and tensorflow
    try:
        tf.config.experimental.enable_op_determinism()
    except RuntimeError:  # pragma: no cover - only if TF refuses after initialisation
        pass


def seed_torch(seed: int) -> None:
    """Seed Python, NumPy and PyTorch, and ask PyTorch for deterministic kernels."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if "torch._inductor.config" in sys.modules:  # torch.compile in use: its compiler's setting too
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:  # the same switch, without importing the compiler (a second of every kernel's start)
        torch._C._set_deterministic_algorithms(True, warn_only=True)
