"""Tests of graders/build.py, graders/check/kernel/startup.py, graders/cli.py and nbgrader_config.py.

Part 1 uses a tiny fixture assignment (tests/fixtures/exercises/fixture.py, referencing
tests/fixtures/fixture_solutions.py) and runs the real nbgrader and a real kernel on it.
Part 2 guards the real assignments, one test per ``exercises/*.py`` (nothing to collect
while that folder is empty): committed ``source/`` and ``release/`` equal a fresh build,
no solution line reaches ``release/``, and nbgrader accepts the source notebooks.
"""

from __future__ import annotations

import ast
import gc
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from graders import cli
from graders.author import build
from graders.author.build import BuildError
from graders.check.kernel import startup as kernel

REPO = build.REPO
PYTHON = sys.executable
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_EXERCISES = FIXTURES / "exercises"
REAL_ASSIGNMENTS = build.assignments()  # exercises/*.py; empty folder: the guards collect nothing


@pytest.fixture(scope="session", autouse=True)
def fixture_solutions_importable():
    """`fixture_solutions` (tests/fixtures) importable, as `solutions` is for the real ones."""
    sys.path.insert(0, str(FIXTURES))
    yield
    sys.path.remove(str(FIXTURES))


@pytest.fixture(scope="session")
def fixture_nb():
    """The fixture's source notebook, as a NotebookNode."""
    return nbformat.reads(build.render("fixture", FIXTURE_EXERCISES), as_version=4)


def cell(notebook, grade_id: str):
    (found,) = [c for c in notebook.cells if c.id == grade_id]
    return found


def kernel_env(prefix: Path) -> dict:
    """Environment in which Jupyter (and nbgrader) find the kernel installed under `prefix`."""
    env = build.nbgrader_env()
    env["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    return env


@pytest.fixture(scope="session")
def kernel_prefix(tmp_path_factory) -> Path:
    prefix = tmp_path_factory.mktemp("kernel-prefix")
    kernel.install_kernel(prefix=prefix)
    return prefix


def new_course(root: Path) -> Path:
    """A course directory with this repository's nbgrader_config.py (its root is its folder)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


@pytest.fixture(scope="session")
def fixture_course(tmp_path_factory):
    """The fixture built and released in a fresh course, first by nbgrader's own command line,
    then again by `build.release`; (root, bytes nbgrader wrote)."""
    root = new_course(tmp_path_factory.mktemp("course"))
    build.build_source("fixture", exercises=FIXTURE_EXERCISES, course_root=root)
    raw = subprocess.run(
        [PYTHON, "-m", "nbgrader", "generate_assignment", "fixture", "--force"],
        cwd=root, env=build.nbgrader_env(), capture_output=True, text=True,
    )
    assert raw.returncode == 0, raw.stderr
    return root, build.release_notebook("fixture", root).read_bytes()


# ==============================================================================================
# Part 1: the fixture assignment
# ==============================================================================================


def test_notebook_level_metadata(fixture_nb):
    assert (fixture_nb.nbformat, fixture_nb.nbformat_minor) == (4, 5)
    assert fixture_nb.metadata == {
        "kernelspec": {"name": "tf-pytorch-course", "display_name": "Python 3 (TF + PyTorch course)", "language": "python"},
        "language_info": {"name": "python"},
    }
    for c in fixture_nb.cells:
        assert "outputs" not in c or c.outputs == []
        assert c.get("execution_count") is None
    nbformat.validate(fixture_nb)


NB = {"schema_version": 3, "task": False}
EXPECTED_CELLS = [  # (cell id, cell type, nbgrader metadata or None)
    ("cell-fixture-1", "markdown", dict(grade=False, solution=False, locked=True, **NB)),
    ("cell-fixture-2", "code", dict(grade=False, solution=False, locked=True, **NB)),  # setup
    ("cell-fixture-3", "code", dict(grade=False, solution=False, locked=True, **NB)),  # given
    ("add", "code", dict(grade=False, solution=True, locked=False, **NB)),
    ("add_tests", "code", dict(grade=True, solution=False, locked=True, points=1, **NB)),
    ("scale_and_normalise", "code", dict(grade=False, solution=True, locked=False, **NB)),
    ("scale_tests", "code", dict(grade=True, solution=False, locked=True, points=2, **NB)),
    ("cell-fixture-8", "markdown", dict(grade=False, solution=False, locked=True, **NB)),
    ("counter", "code", dict(grade=False, solution=True, locked=False, **NB)),
    ("counter_tests", "code", dict(grade=True, solution=False, locked=True, points=1.5, **NB)),
    ("why", "markdown", dict(grade=True, solution=True, locked=False, points=2, **NB)),  # answer
    ("cell-fixture-12", "code", None),  # free
]


def test_metadata_per_cell_kind(fixture_nb):
    assert len(fixture_nb.cells) == len(EXPECTED_CELLS)
    for c, (cell_id, cell_type, meta) in zip(fixture_nb.cells, EXPECTED_CELLS):
        assert (c.id, c.cell_type) == (cell_id, cell_type)
        if meta is None:
            assert "nbgrader" not in c.metadata
        else:
            assert c.metadata["nbgrader"] == {**meta, "grade_id": cell_id}
        assert set(c.metadata) <= {"nbgrader"}  # no "course" or jupytext leftovers


def test_setup_and_markdown_cells_are_copied(fixture_nb):
    assert cell(fixture_nb, "cell-fixture-1").source.startswith("# Fixture assignment\n\nA tiny")
    assert cell(fixture_nb, "cell-fixture-2").source == "import functools\nimport math"
    assert "### BEGIN HIDDEN TESTS" in cell(fixture_nb, "add_tests").source


def test_given_cell_is_verbatim(fixture_nb):
    import fixture_solutions

    assert cell(fixture_nb, "cell-fixture-3").source == inspect.getsource(fixture_solutions.trace).rstrip()


def test_function_body_wrapped_after_docstring(fixture_nb):
    assert cell(fixture_nb, "add").source == textwrap.dedent(
        '''\
        def add(a: int, b: int) -> int:
            """Sum of two integers."""
            ### BEGIN SOLUTION
            return a + b
            ### END SOLUTION'''
    )


def test_decorated_function_and_nested_helper(fixture_nb):
    assert cell(fixture_nb, "scale_and_normalise").source == textwrap.dedent(
        '''\
        @trace
        def scale(
            values: list[float],
            factor: float = 2.0,
        ) -> list[float]:
            """Each value times `factor`."""

            ### BEGIN SOLUTION
            # a comment at the top of the body belongs to the solution
            return [v * factor for v in values]
            ### END SOLUTION


        def normalise(values: list[float]) -> list[float]:
            ### BEGIN SOLUTION
            # no docstring: the whole body is the solution
            def total_of(xs):
                """A nested helper: part of the body."""
                return sum(xs)

            total = total_of(values)
            return [v / total for v in values]
            ### END SOLUTION'''
    )


def test_class_keeps_docstring_and_attributes_and_wraps_each_method(fixture_nb):
    assert cell(fixture_nb, "counter").source == textwrap.dedent(
        '''\
        class Counter:
            """Counts calls; the docstring and class attributes stay visible."""

            start: int = 0

            def __init__(self, start: int = 0):
                ### BEGIN SOLUTION
                self.count = start
                ### END SOLUTION

            @property
            def doubled(self) -> int:
                """Twice the count."""
                ### BEGIN SOLUTION
                return 2 * self.count
                ### END SOLUTION

            def increment(self, by: int = 1) -> int:
                """Add `by` to the count and return the new count."""
                ### BEGIN SOLUTION
                self.count += by
                return self.count
                ### END SOLUTION'''
    )


def test_solution_cells_are_the_reference_code_plus_markers(fixture_nb):
    import fixture_solutions

    for grade_id, names in [("add", ["add"]), ("scale_and_normalise", ["scale", "normalise"]), ("counter", ["Counter"])]:
        source = cell(fixture_nb, grade_id).source
        compile(source, grade_id, "exec")
        stripped = "\n".join(line for line in source.split("\n") if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
        original = "\n\n\n".join(inspect.getsource(getattr(fixture_solutions, n)).rstrip() for n in names)
        assert stripped == original


def test_wrap_solution_edge_cases():
    wrap = build.wrap_solution
    assert wrap('def f():\n    """Only a docstring."""') == 'def f():\n    """Only a docstring."""'
    assert wrap("async def f():\n    await g()\n    # trailing comment\n\nx = 1") == (
        "async def f():\n    ### BEGIN SOLUTION\n    await g()\n    # trailing comment\n    ### END SOLUTION\n\nx = 1"
    )
    nested = "class A:\n    class B:\n        def m(self):\n            return 1\n    X = 2"
    assert wrap(nested) == (
        "class A:\n    class B:\n        def m(self):\n            ### BEGIN SOLUTION\n            return 1\n"
        "            ### END SOLUTION\n    X = 2"
    )
    tabs = "def f(x):\n\treturn x"
    assert wrap(tabs) == "def f(x):\n\t### BEGIN SOLUTION\n\treturn x\n\t### END SOLUTION"
    with pytest.raises(BuildError, match=r"f\(\).*own lines"):
        wrap("def f(x): return x")


# ---- test cells written from the step template ------------------------------------------------

GRADE_IMPORT = "from graders.check.front import grade  # at grading, the grader decides this call outside the kernel"


def render_steps(tmp_path: Path, setup: str, steps: str):
    exercises = tmp_path / "exercises"
    exercises.mkdir(exist_ok=True)
    (exercises / "steps.py").write_text(f'# %% course="setup"\n{setup}\n\n{steps}')
    return nbformat.reads(build.render("steps", exercises), as_version=4)


def test_step_template_writes_the_public_and_hidden_calls(tmp_path):
    """A step="..." test cell gets the self-check and the hidden grade call, with the kind and
    dataset of the setup's checks; the grader reads that call back as the one it has checks for."""
    from graders.runner.verdict import HiddenCall

    notebook = render_steps(
        tmp_path,
        'from graders.check.notebook import StepChecks\n\nDATASET = "mnist"\ncheck = StepChecks("tf2", DATASET)',
        '# %% course="tests" id="train_tests" points=3 step="train"\n\n'
        '# %% course="tests" id="results_tests" points=2.5 step="results"\n',
    )
    train, results = cell(notebook, "train_tests"), cell(notebook, "results_tests")
    assert train.source == "\n".join([
        'check.public("train", train)', "### BEGIN HIDDEN TESTS", GRADE_IMPORT,
        'grade("tf2", "mnist", "train", train)', "### END HIDDEN TESTS",
    ])
    assert results.source == "\n".join([
        "check.public_results(model)", "### BEGIN HIDDEN TESTS", GRADE_IMPORT,
        'grade("tf2", "mnist", "results", model, points=2.5)', "### END HIDDEN TESTS",
    ])
    assert train.metadata.nbgrader["grade"] and results.metadata.nbgrader["points"] == 2.5
    assert HiddenCall.parse(train.source) == HiddenCall("tf2", "mnist", "train", ("train",))
    assert HiddenCall.parse(results.source) == HiddenCall("tf2", "mnist", "results", ("model",), 2.5)

    comparison = cell(render_steps(
        tmp_path, "check = ComparisonChecks()", '# %% course="tests" id="bag" points=2 step="static_bag"\n'
    ), "bag")
    assert comparison.source.split("\n")[0] == 'check.public("static_bag", masked_mean, static_bag)'
    assert HiddenCall.parse(comparison.source) == HiddenCall("comparison", None, "static_bag", ("masked_mean", "static_bag"))


def test_step_template_refuses_checks_it_cannot_name(tmp_path):
    step = '# %% course="tests" id="t" points=1 step="download"\n'
    with pytest.raises(BuildError, match=r"cell 1 \(setup.*the framework is 'tf3', expected one of tf1, tf2, torch"):
        render_steps(tmp_path, 'check = StepChecks("tf3", "digits")', step)
    with pytest.raises(BuildError, match=r"cell 1 \(setup.*the dataset is None, expected one of digits"):
        render_steps(tmp_path, 'check = StepChecks("torch", DATASET)', step)  # no string assigned to DATASET


def test_build_is_byte_stable(tmp_path):
    first = build.build_source("fixture", exercises=FIXTURE_EXERCISES, course_root=tmp_path / "a")
    second = build.build_source("fixture", exercises=FIXTURE_EXERCISES, course_root=tmp_path / "b")
    assert first == tmp_path / "a" / "source" / "fixture" / "fixture.ipynb"
    data = first.read_bytes()
    assert data == second.read_bytes() == build.render("fixture", FIXTURE_EXERCISES).encode()
    assert data.endswith(b"}\n") and not data.endswith(b"\n\n")
    assert json.dumps(json.loads(data), indent=1, sort_keys=True, ensure_ascii=False) + "\n" == data.decode()
    mtime = first.stat().st_mtime_ns
    build.build_source("fixture", exercises=FIXTURE_EXERCISES, course_root=tmp_path / "a")
    assert first.stat().st_mtime_ns == mtime  # unchanged bytes: the file is not rewritten


def test_build_all(tmp_path):
    assert build.build_all(exercises=FIXTURE_EXERCISES, course_root=tmp_path) == [
        tmp_path / "source" / "fixture" / "fixture.ipynb"
    ]
    assert build.assignments(tmp_path / "missing") == []


# ---- errors ------------------------------------------------------------------------------------

GOOD_HEADER = '# %% [markdown]\n# Title\n\n# %% course="setup"\nimport math\n\n'


def render_broken(tmp_path: Path, body: str) -> str:
    exercises = tmp_path / "exercises"
    exercises.mkdir(exist_ok=True)
    (exercises / "broken.py").write_text(GOOD_HEADER + textwrap.dedent(body))
    with pytest.raises(BuildError) as info:
        build.render("broken", exercises)
    return str(info.value)


WHERE = r"broken\.py: cell 3 \({kind}line 7{id}\): "
ERRORS = {  # name: (cell 3 of the broken exercise, kind, id, expected message after "file: cell 3 (...): ")
    "module does not import": (
        '# %% course="solution" id="x" reference="no_such_module_xyz:f"\n',
        "solution", "x", r"reference 'no_such_module_xyz' does not import: ModuleNotFoundError",
    ),
    "module raises on import": (
        '# %% course="solution" id="x" reference="raising_module:f"\n',
        "solution", "x", r"reference 'raising_module' does not import: RuntimeError: boom",
    ),
    "missing object": (
        '# %% course="given" reference="fixture_solutions:add,nope"\n',
        "given", None, r"reference: module 'fixture_solutions' has no 'nope'",
    ),
    "not a function or class": (
        '# %% course="given" reference="fixture_solutions:SCALE"\n',
        "given", None, r"reference: fixture_solutions\.SCALE is not a function or class \(it is a 'int'\)",
    ),
    "one-line body": (
        '# %% course="solution" id="x" reference="fixture_solutions:one_liner"\n',
        "solution", "x", r"reference 'one_liner': put the body of one_liner\(\) on its own lines",
    ),
    "solution body not empty": (
        '# %% course="solution" id="x" reference="fixture_solutions:add"\ndef add(a, b):\n    return a + b\n',
        "solution", "x", r"the body of a course=\"solution\" cell must be empty .*found 'def add\(a, b\):'",
    ),
    "given body not empty": (
        '# %% course="given" reference="fixture_solutions:add"\nx = 1\n',
        "given", None, r"the body of a course=\"given\" cell must be empty",
    ),
    "solution without reference": (
        '# %% course="solution" id="x"\n', "solution", "x", r"course=\"solution\" cells need reference=",
    ),
    "malformed reference": (
        '# %% course="given" reference="fixture_solutions.add"\n', "given", None, r"reference must look like",
    ),
    "test without points": (
        '# %% course="tests" id="t"\nassert True\n', "tests", "t", r"course=\"tests\" cells need points=N \(N > 0\)",
    ),
    "zero points": (
        '# %% course="tests" id="t" points=0\nassert True\n', "tests", "t", r"points must be a number > 0, not 0",
    ),
    "answer without points": (
        '# %% [markdown] course="answer" id="q"\n# ### BEGIN SOLUTION\n# yes\n# ### END SOLUTION\n',
        "answer", "q", r"course=\"answer\" cells need points=N",
    ),
    "answer without markers": (
        '# %% [markdown] course="answer" id="q" points=1\n# yes\n',
        "answer", "q", r"an answer cell needs ### BEGIN SOLUTION / ### END SOLUTION",
    ),
    "duplicate ids": (
        '# %% course="tests" id="t" points=1\nassert True\n\n# %% course="tests" id="t" points=1\nassert 1\n',
        "tests", "t", None,  # reported on the second cell, naming the first
    ),
    "step body not empty": (
        '# %% course="tests" id="t" points=1 step="download"\nassert True\n',
        "tests", "t", r"the body of a course=\"tests\" cell with step= must be empty .*found 'assert True'",
    ),
    "step without checks": (
        '# %% course="tests" id="t" points=1 step="download"\n',
        "tests", "t", r"a tests cell with step= needs a setup cell that makes the checks: check = StepChecks",
    ),
    "unknown step": (
        '# %% course="tests" id="t" points=1 step="downlaod"\n\n# %% course="setup"\ncheck = StepChecks("torch", "digits")\n',
        "tests", "t", r"unknown step 'downlaod' for the torch checks \(one of download, load_and_preprocess, .*, results\)",
    ),
    "unknown kind": ('# %% course="solutions"\n', "solutions", None, r"unknown course='solutions'"),
    "code cell without kind": ("# %%\nx = 1\n", "", None, r"code cell without a kind: add course=\"\.\.\.\""),
    "markdown kind on code cell": (
        '# %% course="answer" id="q" points=1\n',
        "answer", "q", r"course=\"answer\" must be a markdown cell: start it with # %% \[markdown\]",
    ),
    "unknown metadata": ('# %% course="setup" point=2\nx = 1\n', "setup", None, r"unexpected metadata point"),
    "unreadable header": ("# %% course=setup\nx = 1\n", "", None, r"cannot read the cell header 'course=setup'"),
    "bad id": ('# %% course="setup" id="a b"\nx = 1\n', "setup", "a b", r"id 'a b' must be 1-64 letters"),
    "solution marker in setup": (
        '# %% course="setup"\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n',
        "setup", None, r"BEGIN/END SOLUTION may only appear in answer cells",
    ),
    "hidden tests unbalanced": (
        '# %% course="tests" id="t" points=1\n### BEGIN HIDDEN TESTS\nassert True\n',
        "tests", "t", r"BEGIN HIDDEN TESTS without END HIDDEN TESTS",
    ),
    "hidden tests outside tests": (
        '# %% course="setup"\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n',
        "setup", None, r"BEGIN/END HIDDEN TESTS may only appear in tests cells",
    ),
    "autotest": ('# %% course="setup"\n# AUTOTEST x\n', "setup", None, r"the word AUTOTEST makes nbgrader run"),
    "given is also a solution": (
        '# %% course="given" reference="fixture_solutions:add"\n\n'
        '# %% course="solution" id="x" reference="fixture_solutions:add"\n',
        "given", None, r"fixture_solutions:add is given here but is the solution of .*broken\.py: cell 4",
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_name_file_and_cell(name, tmp_path, monkeypatch):
    (tmp_path / "raising_module.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    body, kind, cell_id, expected = ERRORS[name]
    message = render_broken(tmp_path, body)
    assert "\n" not in message
    if name == "duplicate ids":
        assert re.search(r"broken\.py: cell 4 \(tests, line 10, id \"t\"\): duplicate id 't' \(also .*broken\.py: cell 3 ", message), message
        return
    where = WHERE.format(kind=re.escape(kind) + ", " if kind else "", id=f', id "{re.escape(cell_id)}"' if cell_id else "")
    assert re.search(where + expected, message), message


def test_unknown_assignment():
    with pytest.raises(BuildError, match=r"unknown assignment 'nope': no .*nope\.py \(known: fixture\)"):
        build.render("nope", FIXTURE_EXERCISES)
    with pytest.raises(BuildError, match="unknown assignment '../fixture'"):
        build.build_source("../fixture", exercises=FIXTURE_EXERCISES)


def test_release_without_source(tmp_path):
    with pytest.raises(BuildError, match=r"no source notebook .*: build it first"):
        build.release("fixture", course_root=new_course(tmp_path))


# ---- nbgrader generate_assignment --------------------------------------------------------------


def solution_and_hidden_lines(exercise: Path) -> set[str]:
    """Normalised, non-trivial lines students must never see: every line of every referenced
    solution function/method body (after the docstring, found with `ast`, independently of
    the build) and every hidden test line. Lines the exercise shows elsewhere are excluded."""
    cells = build.parse_exercise(exercise)
    secret, visible = set(), set()
    for c in cells:
        if c.kind == "solution":
            reference = build.Reference.parse(c.metadata["reference"], c)
            module = __import__(reference.module, fromlist=["_"])
            for name in reference.names:
                obj = module
                for part in name.split("."):
                    obj = getattr(obj, part)
                secret |= body_lines(textwrap.dedent(inspect.getsource(inspect.unwrap(obj))))
        elif c.kind == "tests":
            hidden = re.findall(r"BEGIN HIDDEN TESTS\n(.*?)\n[^\n]*END HIDDEN TESTS", c.source, re.S)
            secret |= {normalise(line) for block in hidden for line in block.split("\n")}
            visible |= {normalise(line) for line in re.sub(r"BEGIN HIDDEN TESTS.*?END HIDDEN TESTS", "", c.source, flags=re.S).split("\n")}
        elif c.kind == "given":
            reference = build.Reference.parse(c.metadata["reference"], c)
            module = __import__(reference.module, fromlist=["_"])
            for name in reference.names:
                visible |= {normalise(line) for line in inspect.getsource(getattr(module, name)).split("\n")}
        else:
            visible |= {normalise(line) for line in c.source.split("\n")}
    return {line for line in secret - visible if len(line) >= 8 and line not in TRIVIAL}


TRIVIAL = {"return None", "raise NotImplementedError()", "# YOUR CODE HERE"}


def normalise(line: str) -> str:
    return " ".join(line.split())


def body_lines(source: str) -> set[str]:
    lines = source.split("\n")
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            if body:
                found |= {normalise(line) for line in lines[body[0].lineno - 1 : node.end_lineno]}
    return found


def leaked(notebook_path: Path, exercise: Path) -> set[str]:
    notebook = nbformat.read(notebook_path, as_version=4)
    shown = {normalise(line) for c in notebook.cells for line in c.source.split("\n")}
    return solution_and_hidden_lines(exercise) & shown


def test_leak_detector_finds_solutions_in_the_source_notebook(fixture_course):
    root, _ = fixture_course
    secret = solution_and_hidden_lines(FIXTURE_EXERCISES / "fixture.py")
    assert {"return a + b", "self.count += by", "assert add(-1, 1) == 0 # hidden-check-add"} <= secret
    assert "return [v * factor for v in values]" in secret and "return sum(xs)" in secret  # nested helper
    assert "start: int = 0" not in secret and "return wrapper" not in secret  # class attribute, given code
    assert leaked(build.source_notebook("fixture", root), FIXTURE_EXERCISES / "fixture.py") == secret


def test_release_hides_solutions_and_hidden_tests(fixture_course):
    root, _ = fixture_course
    path = build.release_notebook("fixture", root)
    assert leaked(path, FIXTURE_EXERCISES / "fixture.py") == set()
    released = nbformat.read(path, as_version=4)
    text = path.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert cell(released, "add").source == (
        'def add(a: int, b: int) -> int:\n    """Sum of two integers."""\n    # YOUR CODE HERE\n    raise NotImplementedError()'
    )
    assert cell(released, "counter").source.count("        raise NotImplementedError()") == 3
    assert "    start: int = 0" in cell(released, "counter").source
    assert cell(released, "add_tests").source == "assert add(2, 3) == 5"
    assert cell(released, "why").source == "Why do we count?\n\nYOUR ANSWER HERE"
    assert [c.id for c in released.cells] == [cell_id for cell_id, _, _ in EXPECTED_CELLS]
    assert released.metadata.kernelspec.name == "tf-pytorch-course"
    assert cell(released, "add").metadata.nbgrader["checksum"]


def test_release_is_byte_stable(fixture_course):
    root, raw = fixture_course
    # again, with the assignment already in the gradebook: nbgrader 0.9.6 writes no
    # timestamps and sorted keys, so the committed release can be compared byte for byte
    assert build.release("fixture", course_root=root).read_bytes() == raw
    assert json.dumps(json.loads(raw), indent=1, sort_keys=True, ensure_ascii=False) + "\n" == raw.decode()


def test_release_does_not_depend_on_course_path_or_gradebook(fixture_course, tmp_path):
    _, first = fixture_course
    root = new_course(tmp_path / "elsewhere")
    build.build_source("fixture", exercises=FIXTURE_EXERCISES, course_root=root)
    assert build.release("fixture", course_root=root, db=False).read_bytes() == first
    assert not (root / "gradebook.db").exists()


def test_release_failure_is_reported(tmp_path):
    root = new_course(tmp_path)
    path = build.build_source("fixture", exercises=FIXTURE_EXERCISES, course_root=root)
    path.write_text(path.read_text().replace('"solution": true', '"solution": false', 1))  # a region in a non-solution cell
    with pytest.raises(build.ToolError, match=r"nbgrader generate_assignment fixture failed \(exit 1\):\n"):
        build.release("fixture", course_root=root, db=False)


def nbgrader_validate(notebooks: list[Path], root: Path, prefix: Path) -> str:
    done = subprocess.run(
        [PYTHON, "-m", "nbgrader", "validate", *map(str, notebooks)],
        cwd=root, env=kernel_env(prefix), capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_nbgrader_validate_passes_on_source_and_fails_on_release(fixture_course, kernel_prefix):
    root, _ = fixture_course
    notebooks = [build.source_notebook("fixture", root), build.release_notebook("fixture", root)]
    source_out, release_out = nbgrader_validate(notebooks, root, kernel_prefix).split("VALIDATION FAILED", 1)
    assert source_out.strip() == "Success! Your notebook passes all the tests."
    assert release_out.startswith(" ON 4 CELL(S)!"), release_out
    assert release_out.count("NotImplementedError") >= 3 and "You did not provide a response." in release_out


# ---- the kernel ---------------------------------------------------------------------------------


def test_install_kernel_writes_the_spec(kernel_prefix):
    spec_dir = kernel_prefix / "share" / "jupyter" / "kernels" / "tf-pytorch-course"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["argv"][:5] == [PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert "--IPKernelApp.exec_lines=from graders.check.kernel.startup import startup; startup()" in spec["argv"]
    assert "--IPKernelApp.capture_fd_output=False" in spec["argv"]
    assert spec["display_name"] == "Python 3 (TF + PyTorch course)" and spec["language"] == "python"
    assert spec["env"] == {
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONHASHSEED": "0",
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        "TF_DETERMINISTIC_OPS": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    assert (spec_dir / "logo-64x64.png").is_file()
    assert kernel.install_kernel(prefix=kernel_prefix) == spec_dir  # reinstalling replaces it


def test_jupyter_lists_the_kernel(kernel_prefix):
    listing = subprocess.run(
        [str(Path(PYTHON).parent / "jupyter"), "kernelspec", "list", "--json"],
        env=kernel_env(kernel_prefix), capture_output=True, text=True, check=True,
    )
    specs = json.loads(listing.stdout)["kernelspecs"]
    assert Path(specs["tf-pytorch-course"]["resource_dir"]) == kernel_prefix / "share/jupyter/kernels/tf-pytorch-course"


def test_notebook_runs_in_the_kernel(kernel_prefix, monkeypatch):
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    monkeypatch.setenv("JUPYTER_PATH", str(kernel_prefix / "share" / "jupyter"))
    nb = new_notebook(
        cells=[
            new_code_cell("import gc, os, random, sys, warnings\nimport numpy as np\nprint(random.random(), np.random.rand())"),
            new_code_cell("print(sorted(m for m in ('tensorflow', 'torch') if m in sys.modules), os.environ['PYTHONHASHSEED'], gc.get_threshold())"),
            new_code_cell("warnings.warn('d', DeprecationWarning); warnings.warn('f', FutureWarning); warnings.warn('u')"),
            new_code_cell("os.write(2, b'C-level log line\\n'); print('ok')"),
        ],
        metadata={"kernelspec": dict(kernel.KERNELSPEC)},
    )
    NotebookClient(nb, timeout=60, kernel_name="tf-pytorch-course").execute()
    outputs = [[(o.get("name"), o.get("text")) for o in c.outputs] for c in nb.cells]
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)
    assert outputs[0] == [("stdout", f"{random.random()} {np.random.rand()}\n")]  # seeded at the first cell
    youngest, middle, _ = gc.get_threshold()  # Python's own, here; the oldest generation's a tenth as often there
    assert outputs[1] == [("stdout", f"[] 0 {(youngest, middle, kernel.OLDEST_GENERATION_THRESHOLD)}\n")]  # no framework
    assert outputs[2] == []  # warnings silenced: no stderr, no lost points
    assert outputs[3] == [("stdout", "ok\n")]  # fd-level stderr stays out of the notebook


def test_startup_in_plain_python():
    code = "import random, warnings, graders.check.kernel.startup as k; k.startup(); import sys; print(random.random(), 'tensorflow' in sys.modules)"
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    import random

    random.seed(0)
    assert done.stdout == f"{random.random()} False\n"


# ---- nbgrader_config.py -------------------------------------------------------------------------


def load_config(path: Path, env: dict | None = None):
    code = (
        "import json, sys\n"
        "from traitlets.config.loader import PyFileConfigLoader\n"
        "c = PyFileConfigLoader('nbgrader_config.py', path=sys.argv[1]).load_config()\n"
        "name = lambda value: f'{value.__module__}.{value.__qualname__}'  # classes, e.g. the preprocessors\n"
        "print(json.dumps({s: dict(c[s]) for s in c}, default=name))\n"
    )
    overrides = (
        "NBGRADER_EXCHANGE", "COURSE_CELL_TIMEOUT", "COURSE_SUBMISSION_TIMEOUT", "COURSE_MEMORY_LIMIT", "COURSE_UNSAFE_NO_SANDBOX",
        "COURSE_DB_URL", "COURSE_DISK_LIMIT",
    )
    environment = {k: v for k, v in os.environ.items() if k not in overrides}
    done = subprocess.run([PYTHON, "-c", code, str(path)], env={**environment, **(env or {})}, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_config_values(tmp_path):
    root = new_course(tmp_path / "course")
    config = load_config(root)
    assert config["CourseDirectory"] == {
        "root": str(root), "course_id": "tf-pytorch", "source_directory": "source", "release_directory": "release",
        "db_url": f"sqlite:///{root / 'gradebook.db'}?timeout=60",
    }
    assert config["Exchange"]["root"] == str(root / ".exchange") and (root / ".exchange").is_dir()
    assert config["ClearSolutions"]["code_stub"] == {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    assert config["ClearSolutions"]["text_stub"] == "YOUR ANSWER HERE"
    assert config["Execute"]["kernel_name"] == "tf-pytorch-course-grading"  # the sandboxed kernel grades
    assert config["Execute"]["timeout"] == 300 and config["Execute"]["interrupt_on_timeout"] is True
    assert config["Autograde"]["autograde_preprocessors"][0] == "graders.runner.execute.SandboxedExecute"
    assert config["Validator"]["Execute"] == {"kernel_name": "tf-pytorch-course"}  # validate: the course kernel, with the judge
    assert config["SandboxProvisioner"] == {
        "submission_timeout": 1200, "memory_limit": 4 << 30, "disk_limit": 1 << 30, "unsafe_no_sandbox": False,
    }
    overridden = load_config(
        root,
        {
            "COURSE_CELL_TIMEOUT": "17", "NBGRADER_EXCHANGE": str(tmp_path / "x"), "COURSE_SUBMISSION_TIMEOUT": "90",
            "COURSE_MEMORY_LIMIT": "1.5G", "COURSE_UNSAFE_NO_SANDBOX": "1", "COURSE_DB_URL": "postgresql+psycopg://u:p@db/course",
            "COURSE_DISK_LIMIT": "256M",
        },
    )
    assert overridden["CourseDirectory"]["db_url"] == "postgresql+psycopg://u:p@db/course"
    assert overridden["Execute"]["timeout"] == 17
    assert overridden["Exchange"]["root"] == str(tmp_path / "x") and (tmp_path / "x").is_dir()
    assert overridden["SandboxProvisioner"] == {
        "submission_timeout": 90, "memory_limit": 3 << 29, "disk_limit": 256 << 20, "unsafe_no_sandbox": True,
    }


def test_config_options_exist_in_nbgrader(tmp_path):
    """Every option set is a configurable trait of nbgrader 0.9.6 or nbconvert (misspelt ones are ignored silently)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.converters import Autograde, GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory
    from nbgrader.exchange.default.exchange import Exchange
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions, Execute
    from nbgrader.validator import Validator

    from graders.runner.collect import RegularFilesCollect
    from graders.runner.provisioner import SandboxProvisioner

    classes = {
        c.__name__: c
        for c in (
            CourseDirectory, Exchange, ExchangeFactory, ClearHiddenTests, ClearSolutions, Execute, Autograde, GenerateFeedback,
            SandboxProvisioner, HTMLExporter, RegularFilesCollect, Validator,
        )
    }
    config = load_config(REPO, {"NBGRADER_EXCHANGE": str(tmp_path)})  # no .exchange/ in the repository
    assert set(config) <= set(classes)
    for section, values in config.items():
        nested = {name: value for name, value in values.items() if name in classes}  # config of a child, e.g. Validator.Execute
        assert set(values) - set(nested) <= set(classes[section].class_traits(config=True)), section
        for child, child_values in nested.items():
            assert set(child_values) <= set(classes[child].class_traits(config=True)), (section, child)


# ---- the command line ------------------------------------------------------------------------------


def test_cli_build_and_errors(tmp_path, capsys):
    args = ["--exercises", str(FIXTURE_EXERCISES), "--root", str(tmp_path)]
    assert cli.main(["build", *args]) == 0
    assert (tmp_path / "source" / "fixture" / "fixture.ipynb").is_file()
    assert cli.main(["build", "fixture", "nope", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown assignment 'nope'") and err.count("\n") == 1
    assert cli.main([]) == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-command"])
    assert info.value.code == 2
    assert set(cli.COMMANDS) >= {"build", "release", "install-kernel"}


def test_cli_bad_exercise_is_one_line(tmp_path, capsys):
    (tmp_path / "bad.py").write_text('# %% course="tests" id="t"\nassert True\n')
    assert cli.main(["build", "bad", "--exercises", str(tmp_path), "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.py: cell 1" in err and "need points" in err


def test_cli_entry_point_and_install_kernel(tmp_path):
    done = subprocess.run([PYTHON, "-m", "graders", "install-kernel", "--prefix", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "share/jupyter/kernels/tf-pytorch-course/kernel.json").is_file()
    done = subprocess.run([PYTHON, "-m", "graders", "build", "nope"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: unknown assignment 'nope'")


# ==============================================================================================
# Part 2: guards on the real assignments (exercises/*.py)
# ==============================================================================================


@pytest.fixture(scope="session")
def fresh_builds(tmp_path_factory) -> Path:
    """A course with every real assignment freshly built and released (one nbgrader run)."""
    root = new_course(tmp_path_factory.mktemp("fresh"))
    build.build_all(course_root=root)
    build.release_all(course_root=root, db=False)
    return root


def test_committed_assignments_match_exercises():
    """source/ and release/ hold exactly the assignments of exercises/."""
    for folder in (build.SOURCE_DIR, build.RELEASE_DIR):
        present = sorted(p.name for p in (REPO / folder).glob("*") if p.is_dir())
        stale = sorted(set(present) - set(REAL_ASSIGNMENTS))
        assert not stale, f"{folder}/ holds assignments without an exercise: {stale}"


@pytest.mark.parametrize("assignment", REAL_ASSIGNMENTS)
def test_committed_notebooks_are_up_to_date(assignment, fresh_builds):
    """The drift test: committed source/ and release/ are byte-identical to a fresh build."""
    fix = f"run `python -m graders release {assignment}` and commit source/ and release/"
    for committed, fresh in [
        (build.source_notebook(assignment), build.source_notebook(assignment, fresh_builds)),
        (build.release_notebook(assignment), build.release_notebook(assignment, fresh_builds)),
    ]:
        assert committed.is_file(), f"{build.display_path(committed)} is missing: {fix}"
        assert committed.read_bytes() == fresh.read_bytes(), f"{build.display_path(committed)} is out of date: {fix}"


@pytest.mark.parametrize("assignment", REAL_ASSIGNMENTS)
def test_release_shows_no_solution_line(assignment, fresh_builds):
    exercise = build.exercise_path(assignment)
    secret = solution_and_hidden_lines(exercise)
    assert secret, "found no solution lines to look for"
    assert leaked(build.source_notebook(assignment, fresh_builds), exercise) == secret
    release = build.release_notebook(assignment, fresh_builds)
    assert leaked(release, exercise) == set()
    assert "NotImplementedError" in release.read_text()


@pytest.mark.parametrize("assignment", REAL_ASSIGNMENTS)
def test_source_notebook_is_valid_for_nbgrader(assignment, fresh_builds):
    """nbgrader reads the source notebook with its own validator (what `nbgrader validate`
    does before executing; executing the real notebooks is tested elsewhere)."""
    from nbgrader.nbgraderformat import MetadataValidator, read

    path = build.source_notebook(assignment, fresh_builds)
    with open(path) as f:
        notebook = read(f, as_version=4)
    validator = MetadataValidator()
    for c in notebook.cells:
        validator.validate_cell(c)
    grade_cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert grade_cells and all(c.metadata.nbgrader["points"] > 0 for c in grade_cells)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [a for a in REAL_ASSIGNMENTS if a == "torch_pipeline"])
def test_nbgrader_validate_passes_on_source(assignment, fresh_builds, kernel_prefix):
    """The full `nbgrader validate` of a real assignment, which executes the whole notebook. Every source notebook runs
    and passes every test cell by nbgrader's own rule in tests/test_notebooks.py (`determine_grade`), and validate's
    verdicts on a source and a release are checked on the fixture course above: one real notebook here suffices."""
    root = fresh_builds
    out = nbgrader_validate([build.source_notebook(assignment, root)], root, kernel_prefix)
    assert "Success! Your notebook passes all the tests." in out, out
