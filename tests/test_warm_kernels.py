"""The runner starts a warm kernel for each notebook that will run in one, and none for nothing.

A submission that hands in a module of its own (a ``torch.py`` beside the notebook) gets a kernel started beside its
files instead (`graders.runner.jobs.takes_warm_kernels`; graded end to end by the bank's ``brings_its_own_torch``):
a warm kernel started for it would import TensorFlow or PyTorch, and be shut down unused at the end of the batch.
"""

from __future__ import annotations

import nbformat
from submissions import released_course

from graders.runner import batch
from graders.runner.gradebook import Recorder
from graders.runner.jobs import GradingJob

A = "torch_pipeline"


def test_no_warm_kernel_is_started_for_a_submission_that_brings_its_own_module(tmp_path, monkeypatch):
    started = []

    class Counted(batch.WarmKernels):
        def __init__(self, configs, size: int, total: int, warm_up: str = ""):
            started.append(total)
            super().__init__(configs, size, total, warm_up)

    monkeypatch.setattr(batch, "WarmKernels", Counted)
    recorder = Recorder(released_course(tmp_path / "course", A))
    notebook = {A: nbformat.writes(nbformat.v4.new_notebook())}
    own_module = GradingJob(A, "brings_its_own", notebook, files={"torch.py": b"", "timestamp.txt": b""})
    with batch.warm_kernels(recorder, A, [own_module], jobs=2, config=lambda index: {}, scheduler=None):
        pass
    assert started == [0], f"warm kernels started for a class whose one submission brings its own module: {started}"
