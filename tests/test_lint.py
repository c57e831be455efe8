"""The code base keeps its lint rules (ruff, pyproject.toml) and its import contracts (import-linter: the stages
apart, the check stage's two sides independent, the trusted side free of the frameworks), with no import circle."""

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "course", "graders", "solutions", "tests", "benchmarks", "hub"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_import_contracts_hold():
    done = subprocess.run([shutil.which("lint-imports", path=str(Path(sys.executable).parent)), "--no-cache"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0 and "0 broken" in done.stdout, done.stdout[-3000:] + done.stderr


def test_no_module_of_graders_takes_part_in_an_import_circle():
    graph = grimp.build_graph("graders", cache_dir=None)
    circles = [
        (module, other) for module in sorted(graph.modules) for other in graph.find_modules_directly_imported_by(module)
        if other != module and graph.chain_exists(importer=other, imported=module)
    ]
    assert not circles, f"modules that import each other, directly or through others: {circles}"
