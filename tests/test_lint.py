"""The code base stays free of pyflakes errors: unused imports, undefined names, syntax errors."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "course", "graders", "solutions", "tests", "benchmarks"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
