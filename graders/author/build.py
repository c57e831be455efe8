"""Exercises -> nbgrader source notebooks -> nbgrader release notebooks.

``exercises/<a>.py`` is a jupytext "percent" script (format in docs/DESIGN.md; cell
metadata key ``course``). `build_source` renders it into ``source/<a>/<a>.ipynb`` with
nbgrader (schema 3) cell metadata, inserting the referenced solution code; `release`
runs the real ``nbgrader generate_assignment`` on it, giving ``release/<a>/<a>.ipynb``.

Both outputs are byte-stable: the same inputs give the same bytes (sorted keys, no
outputs or execution counts, nbformat 4.5 with cell ids derived from grade ids), so they
are committed and guarded by a drift test (tests/test_build.py).

Cell kinds (``course=...``) and their nbgrader metadata:

==========  ========  ========  =====  ======  ====================================
kind        type      solution  grade  locked  notes
==========  ========  ========  =====  ======  ====================================
(none)      markdown  no        no     yes     every non-answer markdown is locked
setup       code      no        no     yes     copied as is
given       code      no        no     yes     referenced source, verbatim
solution    code      yes       no     no      referenced source, bodies wrapped in
                                               ### BEGIN/END SOLUTION
tests       code      no        yes    yes     needs points; may hide tests; with
                                               step="...", written by the build
answer      markdown  yes       yes    no      needs points and BEGIN/END SOLUTION
free        code      --        --     --      no nbgrader metadata: scratch cell
==========  ========  ========  =====  ======  ====================================

A ``step="..."`` test cell has an empty body: the build writes it from one template
(`step_tests`), the public self-check and the hidden ``grade(kind, dataset, step, *objects)``
call, with the kind and dataset of the setup's ``check = StepChecks(...)`` (`Checks.find`).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import linecache
import os
import re
import subprocess
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from graders.author.rubric import BEGIN_SOLUTION, END_SOLUTION
from graders.check.kernel.quiet import fd2_silenced
from graders.check.kernel.startup import KERNELSPEC
from graders.nbgrader_command import nbgrader_env

REPO = Path(__file__).resolve().parents[2]
EXERCISES = REPO / "exercises"
SOURCE_DIR = "source"  # CourseDirectory.source_directory
RELEASE_DIR = "release"  # CourseDirectory.release_directory

KINDS = ("markdown", "setup", "given", "solution", "tests", "answer", "free")
CODE_KINDS = ("setup", "given", "solution", "tests", "free")
ALLOWED_KEYS = {
    "markdown": {"id"},
    "setup": {"id"},
    "given": {"id", "reference"},
    "solution": {"id", "reference"},
    "tests": {"id", "points", "step"},
    "answer": {"id", "points"},
    "free": {"id"},
}
# Layout hints jupytext adds by itself; they carry no meaning for the course.
JUPYTEXT_KEYS = {"lines_to_next_cell", "lines_to_end_of_cell_marker", "cell_marker", "region_name"}

# nbgrader matches its delimiters as substrings of any line, and starts a kernel for any
# code cell mentioning AUTOTEST, so these words may only appear where they are meant.
SOLUTION_WORDS = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_WORDS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
MARK_SCHEME_WORDS = ("BEGIN MARK SCHEME", "END MARK SCHEME")
AUTOTEST_WORD = "AUTOTEST"

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # nbformat's cell-id rule; used for grade ids
ASSIGNMENT_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
NBGRADER_SCHEMA_VERSION = 3


class BuildError(Exception):
    """Bad input: an exercise, a reference or an assignment name is wrong; the message (one
    line) names the file and the cell."""


class ToolError(BuildError):
    """nbgrader itself failed; the message ends with the tail of its log."""


# --------------------------------------------------------------------------------------------
# Locating exercises


def assignments(exercises: Path = EXERCISES) -> list[str]:
    """Names of all assignments: ``exercises/*.py``, sorted (empty if the folder is missing)."""
    return sorted(p.stem for p in Path(exercises).glob("*.py") if not p.name.startswith("_"))


def exercise_path(assignment: str, exercises: Path = EXERCISES) -> Path:
    """``exercises/<assignment>.py``; `BuildError` naming the known assignments if absent."""
    path = Path(exercises) / f"{assignment}.py"
    if not ASSIGNMENT_PATTERN.fullmatch(assignment or "") or not path.is_file():
        known = ", ".join(assignments(exercises)) or "none"
        raise BuildError(f"unknown assignment {assignment!r}: no {display_path(path)} (known: {known})")
    return path


def source_notebook(assignment: str, course_root: Path = REPO) -> Path:
    return Path(course_root) / SOURCE_DIR / assignment / f"{assignment}.ipynb"


def release_notebook(assignment: str, course_root: Path = REPO) -> Path:
    return Path(course_root) / RELEASE_DIR / assignment / f"{assignment}.ipynb"


def display_path(path: Path) -> str:
    """`path` relative to the repository when inside it (for messages)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Parsing an exercise


@dataclass
class ExerciseCell:
    """One cell of an exercise file, before rendering."""

    path: Path
    index: int  # 1-based position in the notebook
    line: int | None  # line of its ``# %%`` header, when known
    cell_type: str  # "code" | "markdown"
    kind: str  # one of KINDS; "" when the header names none
    source: str
    metadata: dict = field(default_factory=dict)

    @property
    def id(self) -> str | None:
        return self.metadata.get("id")

    @property
    def where(self) -> str:
        parts = [self.kind] if self.kind else []
        if self.line:
            parts.append(f"line {self.line}")
        if isinstance(self.id, str):
            parts.append(f'id "{self.id}"')
        details = f" ({', '.join(parts)})" if parts else ""
        return f"{display_path(self.path)}: cell {self.index}{details}"

    def error(self, message: str) -> BuildError:
        return BuildError(f"{self.where}: {message}")


@dataclass(frozen=True)
class Reference:
    """``reference="module:name1,name2"``: objects (dotted names allowed) in one module."""

    module: str
    names: tuple[str, ...]

    @classmethod
    def parse(cls, text, cell: ExerciseCell) -> Reference:
        if not isinstance(text, str) or ":" not in text:
            raise cell.error(f'reference must look like "module:name1,name2", not {text!r}')
        module, _, names = text.partition(":")
        module = module.strip()
        parsed = tuple(name.strip() for name in names.split(","))
        dotted = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
        if not dotted.fullmatch(module) or not all(dotted.fullmatch(name) for name in parsed):
            raise cell.error(f'reference must look like "module:name1,name2", not {text!r}')
        return cls(module, parsed)


def parse_exercise(path: Path) -> list[ExerciseCell]:
    """Read an exercise file into cells and check each cell's kind and metadata; a ``step=`` test
    cell gets the source `step_tests` writes."""
    import jupytext

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        notebook = jupytext.reads(text, fmt="py:percent")
    except Exception as error:  # jupytext raises assorted errors
        raise BuildError(f"{display_path(path)}: jupytext cannot read it: {error}") from error
    lines = _header_lines(text, len(notebook.cells))
    cells = []
    for index, raw in enumerate(notebook.cells, start=1):
        metadata = {k: v for k, v in raw.metadata.items() if k not in JUPYTEXT_KEYS}
        kind = metadata.pop("course", "markdown" if raw.cell_type == "markdown" else None)
        shown = kind if isinstance(kind, str) else ""
        cell = ExerciseCell(path, index, lines[index - 1], raw.cell_type, shown, _trim(raw.source), metadata)
        _check_cell(cell, kind)
        cells.append(cell)
    templated = [cell for cell in cells if "step" in cell.metadata]
    if templated:
        checks = Checks.find(cells, templated[0])
        for cell in templated:
            cell.source = step_tests(checks, cell)
    return cells


def _header_lines(text: str, n_cells: int) -> list[int | None]:
    """Line numbers of the cells' ``# %%`` headers (None where they cannot be matched)."""
    headers = [n for n, line in enumerate(text.splitlines(), start=1) if line.startswith("# %%")]
    if len(headers) == n_cells - 1:  # content before the first marker forms a cell of its own
        headers = [1] + headers
    return headers if len(headers) == n_cells else [None] * n_cells


def _trim(source: str) -> str:
    """Drop blank lines at both ends (jupytext keeps some), keep everything else."""
    lines = source.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _check_cell(cell: ExerciseCell, kind) -> None:
    meta = cell.metadata
    if "incorrectly_encoded_metadata" in meta:
        raise cell.error(
            f"cannot read the cell header {meta['incorrectly_encoded_metadata']!r}: "
            'write key="text" or key=number pairs, e.g. course="setup"'
        )
    if cell.cell_type not in ("code", "markdown"):
        raise cell.error(f"{cell.cell_type} cells are not supported; use [markdown] or a code cell")
    if kind is None:
        raise cell.error(f'code cell without a kind: add course="..." (one of {", ".join(CODE_KINDS)})')
    if kind not in KINDS:
        raise cell.error(f"unknown course={kind!r} (one of {', '.join(KINDS[1:])})")
    expected = "code" if kind in CODE_KINDS else "markdown"
    if cell.cell_type != expected:
        hint = "# %% [markdown]" if expected == "markdown" else "# %% (without [markdown])"
        raise cell.error(f'course="{kind}" must be a {expected} cell: start it with {hint}')
    unknown = sorted(set(meta) - ALLOWED_KEYS[kind])
    if unknown:
        allowed = ", ".join(sorted(ALLOWED_KEYS[kind] | {"course"}))
        raise cell.error(f"unexpected metadata {', '.join(unknown)} (allowed here: {allowed})")
    if "id" in meta and not (isinstance(meta["id"], str) and ID_PATTERN.fullmatch(meta["id"])):
        raise cell.error(f"id {meta['id']!r} must be 1-64 letters, digits, '_' or '-' (quoted)")
    if kind in ("tests", "answer"):
        points = meta.get("points")
        if points is None:
            raise cell.error(f'course="{kind}" cells need points=N (N > 0)')
        if isinstance(points, bool) or not isinstance(points, (int, float)) or not points > 0:
            raise cell.error(f"points must be a number > 0, not {points!r}")
    if kind == "tests" and "step" in meta and cell.source.strip():
        first = cell.source.strip().splitlines()[0]
        raise cell.error(f'the body of a course="tests" cell with step= must be empty (the build writes its checks); found {first!r}')
    if kind in ("solution", "given"):
        if "reference" not in meta:
            raise cell.error(f'course="{kind}" cells need reference="module:name1,name2"')
        if cell.source.strip():
            first = cell.source.strip().splitlines()[0]
            raise cell.error(
                f'the body of a course="{kind}" cell must be empty (the build inserts the referenced code); found {first!r}'
            )
    _check_delimiters(cell, kind)


def _check_delimiters(cell: ExerciseCell, kind: str) -> None:
    source = cell.source
    if kind == "answer":
        _check_balanced(cell, source, SOLUTION_WORDS, required=True)
    elif any(word in source for word in SOLUTION_WORDS):
        raise cell.error(
            "BEGIN/END SOLUTION may only appear in answer cells (solution cells get them from the build)"
        )
    if kind == "tests":
        _check_balanced(cell, source, HIDDEN_WORDS, required=False)
    elif any(word in source for word in HIDDEN_WORDS):
        raise cell.error("BEGIN/END HIDDEN TESTS may only appear in tests cells")
    if any(word in source for word in MARK_SCHEME_WORDS):
        raise cell.error("mark schemes are not supported (put the rubric in the answer's solution region)")
    if cell.cell_type == "code" and AUTOTEST_WORD in source:
        raise cell.error(f"the word {AUTOTEST_WORD} makes nbgrader run its autotest preprocessor; rephrase")


def _check_balanced(cell: ExerciseCell, source: str, words: tuple[str, str], required: bool) -> None:
    begin, end = words
    open_ = False
    seen = False
    for line in source.split("\n"):
        if begin in line:
            if open_:
                raise cell.error(f"nested {begin}")
            open_ = seen = True
        elif end in line:
            if not open_:
                raise cell.error(f"{end} without {begin}")
            open_ = False
    if open_:
        raise cell.error(f"{begin} without {end}")
    if required and not seen:
        raise cell.error(f"an answer cell needs ### {begin} / ### {end} around the model answer")


# --------------------------------------------------------------------------------------------
# Test cells of graded steps (step="...")

CHECKS_CLASSES = ("StepChecks", "ComparisonChecks")
GRADE_IMPORT = "from graders.check.front import grade  # at grading, the grader decides this call outside the kernel"


@dataclass(frozen=True)
class Checks:
    """The exercise's checks: the first two arguments of its hidden ``grade`` calls."""

    kind: str  # "tf1" | "tf2" | "torch" | "comparison"
    dataset: str | None

    @classmethod
    def find(cls, cells: list[ExerciseCell], needed_by: ExerciseCell) -> Checks:
        """From the setup cells' ``check = StepChecks("torch", DATASET)`` (a name stands for the string
        assigned to it above) or ``check = ComparisonChecks()``; `needed_by` names the cell when none."""
        constants = {}
        for cell in cells:
            if cell.kind != "setup":
                continue
            try:
                body = ast.parse(cell.source).body
            except SyntaxError:
                continue  # the kernel will say so; a setup cell need not be plain Python for the build
            for node in body:
                if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                    continue
                name, value = node.targets[0].id, node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    constants[name] = value.value
                elif name == "check" and isinstance(value, ast.Call) and getattr(value.func, "id", None) in CHECKS_CLASSES:
                    return cls._made_by(value, constants, cell)
        raise needed_by.error(
            'a tests cell with step= needs a setup cell that makes the checks: check = StepChecks("<framework>", '
            "DATASET) or check = ComparisonChecks()"
        )

    @classmethod
    def _made_by(cls, call: ast.Call, constants: dict, cell: ExerciseCell) -> Checks:
        from course.pipeline import HYPERPARAMETERS
        from graders.check.shared.protocol import FRAMEWORKS

        if call.func.id == "ComparisonChecks":
            return cls("comparison", None)
        shown = ast.unparse(call)
        values = [constants.get(a.id) if isinstance(a, ast.Name) else getattr(a, "value", None) for a in call.args]
        if len(values) != 2 or call.keywords:
            raise cell.error(f"check = {shown}: write StepChecks(framework, dataset), both strings or names of strings")
        framework, dataset = values
        if framework not in FRAMEWORKS:
            raise cell.error(f"check = {shown}: the framework is {framework!r}, expected one of {', '.join(FRAMEWORKS)}")
        if dataset not in HYPERPARAMETERS:
            raise cell.error(f"check = {shown}: the dataset is {dataset!r}, expected one of {', '.join(HYPERPARAMETERS)}")
        return cls(framework, dataset)

    def objects(self) -> dict[str, tuple[str, ...]]:
        """Each step these checks have -> the notebook objects its checks take, in order."""
        if self.kind == "comparison":
            from graders.check.shared.comparison_contract import OBJECTS

            return dict(OBJECTS)
        from graders.check.shared.checks import STEPS

        return {step: ("model",) if step == "results" else (step,) for step in STEPS}


def step_tests(checks: Checks, cell: ExerciseCell) -> str:
    """The source of `cell` (``step="..."``): the public self-check, then, hidden, the ``grade`` call
    that the grader decides; the results cell's call carries the cell's points."""
    step, steps = cell.metadata["step"], checks.objects()
    if not isinstance(step, str) or step not in steps:
        raise cell.error(f"unknown step {step!r} for the {checks.kind} checks (one of {', '.join(steps)})")
    objects = ", ".join(steps[step])
    public = f"check.public_results({objects})" if step == "results" else f'check.public("{step}", {objects})'
    dataset = "None" if checks.dataset is None else f'"{checks.dataset}"'
    points = f", points={cell.metadata['points']}" if step == "results" else ""
    hidden = f'grade("{checks.kind}", {dataset}, "{step}", {objects}{points})'
    return "\n".join((public, "### BEGIN HIDDEN TESTS", GRADE_IMPORT, hidden, "### END HIDDEN TESTS"))


# --------------------------------------------------------------------------------------------
# Referenced source code


def reference_source(reference: Reference, cell: ExerciseCell, solution: bool) -> str:
    """The source of the referenced objects, two blank lines apart; for a solution cell every
    function/method body after its docstring is wrapped in ### BEGIN/END SOLUTION."""
    linecache.checkcache()  # pick up edits to the solution files in a long-lived process
    try:
        with _quiet_import(reference.module):
            module = importlib.import_module(reference.module)
    except Exception as error:
        raise cell.error(
            f"reference {reference.module!r} does not import: {type(error).__name__}: {error}"
        ) from error
    parts = []
    for name in reference.names:
        source = _object_source(module, name, cell)
        if solution:
            source = wrap_solution(source, cell, name)
        parts.append(source)
    return "\n\n\n".join(parts)


@contextlib.contextmanager
def _quiet_import(module: str):
    """Import TensorFlow & co. without their C++ start-up log on our stderr (file descriptor 2)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if module in sys.modules:
        yield
        return
    with fd2_silenced():
        yield


def _object_source(module, name: str, cell: ExerciseCell) -> str:
    obj = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise cell.error(f"reference: module {module.__name__!r} has no {name!r}") from None
    target = inspect.unwrap(obj) if callable(obj) else obj
    if not (inspect.isfunction(target) or inspect.isclass(target)):
        raise cell.error(
            f"reference: {module.__name__}.{name} is not a function or class (it is a {type(obj).__name__!r})"
        )
    try:
        source = textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError) as error:
        raise cell.error(f"reference: no source code for {module.__name__}.{name}: {error}") from error
    try:
        tree = ast.parse(source)
    except SyntaxError as error:  # pragma: no cover - getsource returned a fragment
        raise cell.error(f"reference: cannot parse the source of {module.__name__}.{name}: {error}") from error
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        raise cell.error(f"reference: {module.__name__}.{name} is not defined by a def or class statement")
    for word in (*SOLUTION_WORDS, *HIDDEN_WORDS, *MARK_SCHEME_WORDS, AUTOTEST_WORD):
        if word in source:
            raise cell.error(f"reference: the source of {module.__name__}.{name} contains {word!r}, which nbgrader treats as a delimiter")
    return source.rstrip()


def wrap_solution(source: str, cell: ExerciseCell | None = None, name: str = "") -> str:
    """Wrap every function body (after its docstring) in `source` in BEGIN/END SOLUTION.

    `source` holds one top-level ``def`` or ``class``. A function's body is wrapped as a
    whole (nested functions included); a class keeps its docstring and attributes and each
    of its methods (and those of nested classes) is wrapped. Markers use the body's
    indentation. A body that is only a docstring is left alone.
    """

    def fail(message: str) -> BuildError:
        text = f"reference {name!r}: {message}" if name else message
        return cell.error(text) if cell else BuildError(text)

    lines = source.split("\n")
    tree = ast.parse(source)
    regions: list[tuple[int, int, str]] = []  # (first line, last line, indent), 1-based inclusive

    def visit(node) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            region = _body_region(node, lines, fail)
            if region:
                regions.append(region)
        elif isinstance(node, ast.ClassDef):
            for child in node.body:
                visit(child)

    for node in tree.body:
        visit(node)
    for first, last, indent in sorted(regions, reverse=True):
        lines[first - 1 : last] = [indent + BEGIN_SOLUTION, *lines[first - 1 : last], indent + END_SOLUTION]
    return "\n".join(lines)


def _body_region(node, lines: list[str], fail) -> tuple[int, int, str] | None:
    header_end = _header_end(node, lines)
    body = node.body
    docstring = (
        isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)
    )
    statements = body[1:] if docstring else body
    if not statements:
        return None
    if statements[0].lineno == header_end or (docstring and statements[0].lineno == body[0].end_lineno):
        raise fail(f"put the body of {node.name}() on its own lines (one-line bodies cannot be wrapped)")
    first = (body[0].end_lineno if docstring else header_end) + 1
    while not lines[first - 1].strip():  # leave blank lines after the header/docstring outside
        first += 1
    last = node.end_lineno
    # trailing comments still indented inside the function belong to it
    def_indent = len(lines[node.lineno - 1]) - len(lines[node.lineno - 1].lstrip())
    probe = last + 1
    while probe <= len(lines):
        text = lines[probe - 1]
        if not text.strip():
            probe += 1
            continue
        if text.lstrip().startswith("#") and len(text) - len(text.lstrip()) > def_indent:
            last = probe
            probe += 1
            continue
        break
    indent = re.match(r"[ \t]*", lines[statements[0].lineno - 1]).group(0)
    return first, last, indent


def _header_end(node, lines: list[str]) -> int:
    """The line (1-based) holding the colon that ends a ``def`` header."""
    text = "\n".join(lines[node.lineno - 1 :]) + "\n"
    depth = 0
    seen_def = False
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NAME and token.string == "def" and depth == 0:
                seen_def = True
            elif token.type == tokenize.OP:
                if token.string in "([{":
                    depth += 1
                elif token.string in ")]}":
                    depth -= 1
                elif token.string == ":" and depth == 0 and seen_def:
                    return node.lineno + token.start[0] - 1
    except (tokenize.TokenError, IndentationError):  # pragma: no cover - we stop before the body
        pass
    return node.body[0].lineno - 1  # pragma: no cover - fallback


# --------------------------------------------------------------------------------------------
# Rendering


def render(assignment: str, exercises: Path = EXERCISES) -> str:
    """The source notebook of `assignment` as text (nbformat 4.5 JSON, trailing newline)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    path = exercise_path(assignment, exercises)
    cells = parse_exercise(path)
    _check_references_disjoint(cells)
    seen: dict[str, ExerciseCell] = {}
    out = []
    for cell in cells:
        generated = f"cell-{assignment}-{cell.index}"
        grade_id = cell.id or generated
        if not ID_PATTERN.fullmatch(grade_id):
            raise cell.error(f"generated id {grade_id!r} is longer than 64 characters: give the cell an id")
        if grade_id in seen:
            raise cell.error(f"duplicate id {grade_id!r} (also {seen[grade_id].where})")
        seen[grade_id] = cell

        source = cell.source
        if cell.kind in ("given", "solution"):
            reference = Reference.parse(cell.metadata["reference"], cell)
            source = reference_source(reference, cell, solution=cell.kind == "solution")
        metadata = {}
        if cell.kind != "free":
            metadata["nbgrader"] = _nbgrader_metadata(cell, grade_id)
        make = new_markdown_cell if cell.cell_type == "markdown" else new_code_cell
        out.append(make(source=source, metadata=metadata, id=grade_id))

    notebook = new_notebook(
        cells=out,
        metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}},
    )
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:  # pragma: no cover - our own bug
        raise BuildError(f"{display_path(path)}: the rendered notebook is invalid: {error}") from error
    _nbgrader_validate(notebook, path)
    return _dumps(notebook)


def _nbgrader_metadata(cell: ExerciseCell, grade_id: str) -> dict:
    solution = cell.kind in ("solution", "answer")
    grade = cell.kind in ("tests", "answer")
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": NBGRADER_SCHEMA_VERSION,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = cell.metadata["points"]
    return meta


def _check_references_disjoint(cells: list[ExerciseCell]) -> None:
    """An object shown verbatim in a given cell must not be a solution elsewhere."""
    solutions = {}
    for cell in cells:
        if cell.kind == "solution":
            reference = Reference.parse(cell.metadata["reference"], cell)
            for name in reference.names:
                solutions[f"{reference.module}:{name}"] = cell
    for cell in cells:
        if cell.kind == "given":
            reference = Reference.parse(cell.metadata["reference"], cell)
            for name in reference.names:
                key = f"{reference.module}:{name}"
                if key in solutions:
                    raise cell.error(f"{key} is given here but is the solution of {solutions[key].where}")


def _nbgrader_validate(notebook, path: Path) -> None:
    """nbgrader's own metadata validator, as generate_assignment will run it."""
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    try:
        MetadataValidator().validate_nb(notebook)
    except ValidationError as error:  # pragma: no cover - our checks come first
        raise BuildError(f"{display_path(path)}: nbgrader rejects the metadata: {error}") from error


def _dumps(notebook) -> str:
    import nbformat

    return nbformat.writes(notebook, version=4).rstrip("\n") + "\n"


def _write_if_changed(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)
    return path


def build_source(assignment: str, *, exercises: Path = EXERCISES, course_root: Path = REPO) -> Path:
    """Render ``exercises/<a>.py`` into ``<course_root>/source/<a>/<a>.ipynb``; return its path.

    The file is rewritten only when its bytes change.
    """
    text = render(assignment, exercises)
    return _write_if_changed(source_notebook(assignment, course_root), text)


def build_all(*, exercises: Path = EXERCISES, course_root: Path = REPO) -> list[Path]:
    """`build_source` for every assignment in `exercises`."""
    return [build_source(a, exercises=exercises, course_root=course_root) for a in assignments(exercises)]


# --------------------------------------------------------------------------------------------
# Release (nbgrader generate_assignment)


def release(assignment: str, *, course_root: Path = REPO, db: bool = True, timeout: float = 300) -> Path:
    """Run ``nbgrader generate_assignment <a> --force`` in `course_root`; return the release notebook.

    nbgrader reads ``<course_root>/nbgrader_config.py`` (it runs with that working
    directory) and writes ``release/<a>/``; with `db` it also records the assignment in
    the gradebook (``gradebook.db``), which autograding needs. nbgrader 0.9.6 writes
    byte-stable releases (no timestamps; checksums are content hashes): the drift test relies on it.
    """
    return _generate(assignment, [assignment], Path(course_root).resolve(), db, timeout)[0]


def release_all(
    *, exercises: Path = EXERCISES, course_root: Path = REPO, db: bool = True, timeout: float = 600
) -> list[Path]:
    """`release` every assignment; one nbgrader run (``generate_assignment "*"``) when
    ``source/`` holds exactly these assignments, else one run each."""
    names = assignments(exercises)
    course_root = Path(course_root).resolve()
    built = sorted(p.name for p in (course_root / SOURCE_DIR).glob("*") if p.is_dir())
    if names and built == names:
        return _generate("*", names, course_root, db, timeout)
    return [release(a, course_root=course_root, db=db, timeout=timeout) for a in names]


def _generate(pattern: str, names: list[str], course_root: Path, db: bool, timeout: float) -> list[Path]:
    for name in names:
        source = source_notebook(name, course_root)
        if not source.is_file():
            raise BuildError(f"no source notebook {display_path(source)}: build it first (python -m graders build {name})")
    command = [
        sys.executable,
        "-m",
        "nbgrader",
        "generate_assignment",
        pattern,
        "--force",
        f"--CourseDirectory.root={course_root}",
    ]
    if not db:
        command.append("--no-db")
    result = subprocess.run(command, cwd=course_root, capture_output=True, text=True, timeout=timeout, env=nbgrader_env())
    targets = [release_notebook(name, course_root) for name in names]
    if result.returncode != 0 or not all(target.is_file() for target in targets):
        log = (result.stdout + result.stderr).strip().splitlines()
        tail = "\n".join(log[-15:])
        raise ToolError(f"nbgrader generate_assignment {pattern} failed (exit {result.returncode}):\n{tail}")
    return targets
