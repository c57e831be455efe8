"""Autograde on a Dask cluster: a real scheduler and worker processes on loopback, one shared course."""

from __future__ import annotations

import shutil

import pytest

from graders.runner import batch as ag
from graders.author import build
from submissions import REPO, Sample, full_marks, zero_marks

pytestmark = pytest.mark.slow
ASSIGNMENT = "torch_pipeline"


@pytest.fixture
def course(tmp_path, monkeypatch):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    for folder in ("source", "release"):
        shutil.copytree(REPO / folder / ASSIGNMENT, root / folder / ASSIGNMENT)
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path / "exchange"))
    build.release(ASSIGNMENT, course_root=root)
    return root


def test_a_class_is_graded_on_a_dask_cluster(course):
    from distributed import LocalCluster

    bank = [
        Sample("ada", expected=full_marks(ASSIGNMENT)),
        Sample("bob", base="release", expected=zero_marks(ASSIGNMENT)),
    ]
    for sample in bank:
        sample.submit(course, ASSIGNMENT)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        outcomes = ag.autograde(course, ASSIGNMENT, scheduler=cluster.scheduler_address)
    assert [(o.student, o.graded) for o in outcomes] == [("ada", True), ("bob", True)], outcomes
    scores = ag.scores(course, ASSIGNMENT)
    for sample in bank:
        got = {cell: score for cell, (score, _) in scores[sample.name].items()}
        assert got == sample.expected, sample.name
