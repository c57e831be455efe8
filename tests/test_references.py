"""The stored reference figures: fresh for the pinned libraries, recomputed only when stale."""

import json

from course.data import HOLDOUT_SIZE
from graders.author.figures import stale_datasets, versions
from graders.check.trusted.holdout import recipe
from graders.check.trusted.references import REFERENCES_PATH, load_references


def test_committed_figures_are_fresh_for_this_environment():
    assert stale_datasets(("digits",)) == [], "run `python -m graders build` to refresh graders/check/trusted/references.json"
    figures = load_references()["digits"]
    assert figures["versions"] == versions()
    assert figures["holdout"] == recipe() and figures["sizes"]["holdout"] == HOLDOUT_SIZE["digits"]
    for framework, numbers in figures["frameworks"].items():  # the reference models read the held-out images
        assert numbers["holdout_accuracy"] >= 0.93, framework


def test_missing_or_outdated_figures_are_stale(tmp_path):
    assert stale_datasets(("digits",), tmp_path / "none.json") == ["digits"]
    stored = json.loads(REFERENCES_PATH.read_text())
    stored["digits"]["versions"]["torch"] = "0.0.1"
    outdated = tmp_path / "old.json"
    outdated.write_text(json.dumps(stored))
    assert stale_datasets(("digits",), outdated) == ["digits"]
    stored = json.loads(REFERENCES_PATH.read_text())
    stored["digits"]["hyperparameters"]["epochs"] += 1
    outdated.write_text(json.dumps(stored))
    assert stale_datasets(("digits",), outdated) == ["digits"]
    stored = json.loads(REFERENCES_PATH.read_text())
    stored["digits"]["holdout"]["noise_std"] /= 2  # figures of held-out images made another way
    outdated.write_text(json.dumps(stored))
    assert stale_datasets(("digits",), outdated) == ["digits"]
