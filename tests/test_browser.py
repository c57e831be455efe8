"""A real browser on the course: what a student and an instructor see.

A real JupyterLab server (this environment's, with nbgrader 0.9.6's lab and server
extensions) serves a temp copy of the course; Debian's Chromium, driven by Playwright,
opens the committed release notebooks and nbgrader's formgrader:

* the lesson renders: the title, the seven "Step k" headings in order, `YOUR CODE HERE` in
  every solution cell (editable) while the test cells are read-only, the course kernel, and
  nbgrader's Validate button in the notebook toolbar; pressing it reports the unfilled steps;
* the formgrader lists the assignment, released (generate_assignment + release_assignment);
* formgrader's Autograde button grades through the sandboxed grading kernel.

Chromium comes from `.ci/install-system-packages` (apt-get, as root); the test skips only where it is
absent and cannot be installed (not root). Playwright's own browser download is never used.
Screenshots go to the test's tmp_path.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from browser import JupyterLab
from submissions import Sample
from submissions.attacks import ATTACKS

from graders.author import build
from graders.check.shared.checks import STEPS, step_label

pytestmark = pytest.mark.slow

REPO = build.REPO
LESSON = "torch_pipeline"  # opened in full, validated, released to the formgrader
TF_LESSON = "tf2_pipeline"  # opened too: a TensorFlow notebook renders the same way
STEP_COUNT = 7
TIMEOUT_MS = 30_000
WORKSPACES = itertools.count(1)


# ---- what the notebook file says the page must show ------------------------------------------


def lesson_cells(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(build.release_notebook(assignment), as_version=4)


def title(notebook) -> str:
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "the lesson starts with its title"
    return first.source.splitlines()[0][2:].replace("`", "").strip()


def step_cells(notebook) -> list[tuple[int, str]]:
    """(cell index, heading text as rendered) of the "## Step k" markdown cells, in order."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown" and cell.source.startswith("## Step "):
            found.append((index, cell.source.splitlines()[0][3:].replace("`", "").strip()))
    return found


def cells_where(notebook, **flags) -> list[int]:
    return [
        i
        for i, c in enumerate(notebook.cells)
        if c.cell_type == "code" and all(c.metadata.get("nbgrader", {}).get(k) == v for k, v in flags.items())
    ]


# ---- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A temp copy of the course: nbgrader_config.py, source/ and the committed release/."""
    root = tmp_path_factory.mktemp("browser-course")
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    for folder in (build.SOURCE_DIR, build.RELEASE_DIR):
        shutil.copytree(REPO / folder, root / folder)
    return root


class Release(threading.Thread):
    """`python -m graders release`'s work for one assignment in the temp course (generate_assignment,
    gradebook included), then `nbgrader release_assignment` to the course's exchange; runs while
    the browser opens the other notebook."""

    def __init__(self, root: Path, assignment: str):
        super().__init__(daemon=True)
        self.root, self.assignment, self.error = root, assignment, None

    def run(self):
        try:
            released = build.release(self.assignment, course_root=self.root, db=True)
            # the browser opens the committed notebook (equal to a fresh release: see test_build's drift test)
            shutil.copy(build.release_notebook(self.assignment), released)
            env = build.nbgrader_env()
            env.pop("NBGRADER_EXCHANGE", None)  # the temp course's own .exchange/
            done = subprocess.run(
                [sys.executable, "-m", "nbgrader", "release_assignment", self.assignment, "--force"],
                cwd=self.root, env=env, capture_output=True, text=True, timeout=300,
            )
            assert done.returncode == 0, f"nbgrader release_assignment failed:\n{done.stdout}\n{done.stderr}"
        except BaseException as error:  # reported by the test that needs it
            self.error = error

    def result(self):
        self.join(timeout=300)
        assert not self.is_alive(), "releasing took more than 300 s"
        if self.error is not None:
            raise self.error


@pytest.fixture(scope="module")
def released(course) -> Release:
    thread = Release(course, LESSON)
    thread.start()
    yield thread
    thread.join(timeout=300)


@pytest.fixture(scope="module")
def lab(course, released, tmp_path_factory):
    """JupyterLab serving the temp course; shut down (kernels too) after the module."""
    server = JupyterLab(course, tmp_path_factory.mktemp("jupyter-state"))
    with server:
        yield server
        server.remember_children()  # the kernels the notebooks started
    assert server.leftovers() == [], f"processes left after the server shut down: {server.leftovers()}"


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


# ---- helpers ---------------------------------------------------------------------------------------


def open_notebook(page, lab: JupyterLab, assignment: str):
    """Open release/<a>/<a>.ipynb in JupyterLab; the notebook panel's locator once its first cell shows."""
    from playwright.sync_api import expect

    # a fresh workspace each time: JupyterLab would otherwise reopen the notebooks opened before
    workspace = f"{assignment}-{next(WORKSPACES)}"
    page.goto(lab.url(f"lab/workspaces/{workspace}/tree/{build.RELEASE_DIR}/{assignment}/{assignment}.ipynb"))
    panel = page.locator(".jp-NotebookPanel").filter(has=page.locator("h1"))
    expect(panel.locator(".jp-Cell").first.locator("h1")).to_be_visible(timeout=60_000)
    return panel


def check_lesson(panel, notebook) -> None:
    """The title, then the seven "Step k" headings, each visible in its own cell and in order."""
    from playwright.sync_api import expect

    cells = panel.locator(".jp-Notebook .jp-Cell")
    expect(cells).to_have_count(len(notebook.cells))
    expect(cells.nth(0).locator("h1")).to_have_text(heading_text(title(notebook)))
    steps = step_cells(notebook)
    assert [text.split(" — ")[0] for _, text in steps] == [f"Step {k}" for k in range(1, STEP_COUNT + 1)]
    for index, text in steps:  # JupyterLab renders markdown as it scrolls into view
        heading = cells.nth(index).locator("h2")
        heading.scroll_into_view_if_needed()
        expect(heading).to_have_text(heading_text(text))
        expect(heading).to_be_visible()
    shown = [t.strip().rstrip("¶").strip() for t in panel.locator(".jp-Notebook h2").all_text_contents()]
    shown = [t for t in shown if t.startswith("Step ")]
    assert shown == [text for _, text in steps], "the Step headings appear in this order on the page"


def heading_text(text: str) -> re.Pattern:
    """A rendered heading's text: `text`, then JupyterLab's anchor link "¶"."""
    return re.compile(rf"^\s*{re.escape(text)}\s*¶?\s*$")


def editor(cells, index: int):
    return cells.nth(index).locator(".jp-InputArea-editor .cm-content")


# ---- the tests ---------------------------------------------------------------------------------------


def test_tf_release_renders_as_a_lesson(page, lab, tmp_path):
    from playwright.sync_api import expect

    notebook = lesson_cells(TF_LESSON)
    panel = open_notebook(page, lab, TF_LESSON)
    check_lesson(panel, notebook)
    cells = panel.locator(".jp-Notebook .jp-Cell")
    for index in cells_where(notebook, solution=True, grade=False):
        box = editor(cells, index)
        box.scroll_into_view_if_needed()
        expect(box).to_contain_text("# YOUR CODE HERE")
    expect(panel.locator(".jp-NotebookPanel-toolbar .validate-button")).to_be_visible()
    page.screenshot(path=str(tmp_path / f"{TF_LESSON}.png"))


def test_torch_release_renders_as_a_lesson(page, lab, released, tmp_path):
    from playwright.sync_api import expect

    released.result()  # generate_assignment rewrites release/torch_pipeline/ meanwhile
    notebook = lesson_cells(LESSON)
    panel = open_notebook(page, lab, LESSON)
    page.screenshot(path=str(tmp_path / f"{LESSON}-top.png"))
    check_lesson(panel, notebook)

    cells = panel.locator(".jp-Notebook .jp-Cell")
    solutions = cells_where(notebook, solution=True, grade=False)
    tests = cells_where(notebook, grade=True, solution=False)
    assert len(solutions) == STEP_COUNT and len(tests) == STEP_COUNT + 1  # + the results cell
    for index in solutions:
        box = editor(cells, index)
        box.scroll_into_view_if_needed()
        expect(box).to_contain_text("# YOUR CODE HERE")
        expect(box).to_contain_text("raise NotImplementedError()")
        expect(box).not_to_have_attribute("aria-readonly", "true")  # editable
    for index in tests:  # locked by nbgrader: read-only in JupyterLab
        box = editor(cells, index)
        box.scroll_into_view_if_needed()
        expect(box).to_contain_text("check.public")
        expect(box).to_have_attribute("aria-readonly", "true")
    (step3, _) = step_cells(notebook)[2]
    cells.nth(step3).evaluate("cell => cell.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(tmp_path / f"{LESSON}-step3.png"))

    toolbar = panel.locator(".jp-NotebookPanel-toolbar")
    expect(toolbar.locator(".validate-button")).to_be_visible()
    expect(toolbar.locator(".validate-button")).to_have_text(re.compile(r"\s*Validate\s*"))
    expect(toolbar).to_contain_text("Python 3 (TF + PyTorch course)")  # the course kernel, found


def test_validate_button_reports_every_unfilled_step(page, lab, released, tmp_path):
    """Pressing Validate runs `nbgrader validate` on the server: it fails on the unfilled release,
    one message per step (the notebook is the temp course's copy)."""
    from playwright.sync_api import expect

    released.result()
    panel = open_notebook(page, lab, LESSON)
    panel.locator(".jp-NotebookPanel-toolbar .validate-button").click()
    dialog = page.locator(".jp-Dialog").filter(has_text="Validation Results")
    expect(dialog).to_be_visible(timeout=180_000)
    body = dialog.locator(".validation-failed")
    expect(body).to_contain_text("The following cell failed")
    page.screenshot(path=str(tmp_path / "validate.png"))
    text = body.inner_text()
    assert text.count("The following cell failed") == STEP_COUNT + 1, text  # the steps and the results cell
    for step in STEPS[:STEP_COUNT]:
        assert text.count(f"✗ {step_label(step)}: not implemented yet") == 1, text
    assert text.count("✗ results:") == 1, text
    dialog.get_by_role("button", name=re.compile("Ok", re.I)).click()


def test_formgrader_lists_the_released_assignment(page, lab, released, tmp_path):
    from playwright.sync_api import expect

    released.result()
    page.goto(lab.url("formgrader"))
    expect(page).to_have_url(re.compile(r"/formgrader/manage_assignments"))
    row = page.locator("tr", has=page.locator("td", has_text=re.compile(rf"^\s*{LESSON}\s*$")))
    expect(row).to_have_count(1)
    expect(row.locator(".status")).to_have_text("released")
    page.screenshot(path=str(tmp_path / "formgrader.png"))


def test_formgrader_autograde_button_grades_in_the_sandbox(page, lab, released, course, tmp_path):
    """The Autograde button runs nbgrader in the server, through the sandboxed grading kernel: an honest
    submission gets full marks, and an attack (stubs) that zeroes every grade of any gradebook it can reach (here,
    without the sandbox, it would reach the course's) earns its own 0 and changes no one else's."""
    from playwright.sync_api import expect

    released.result()
    attack = next(s for s in ATTACKS if s.name == "forges_gradebook")
    for sample in (Sample("ada"), attack):
        sample.submit(course, LESSON)
    page.goto(lab.url("formgrader"))  # logs in: the token becomes a cookie on formgrader's redirect
    page.goto(f"{lab.base}/formgrader/manage_submissions/{LESSON}")

    def row(student: str):
        return page.locator("#main-table tr", has=page.locator("td.student-id", has_text=re.compile(rf"^{student}$")))

    for student, score in (("ada", "16 / 16"), (attack.name, "0 / 16")):
        expect(row(student).locator(".status")).to_have_text("needs autograding", timeout=60_000)
        row(student).locator("td.autograde a").click()
        modal = page.locator("#success-modal")
        expect(modal).to_contain_text(f"Successfully autograded '{LESSON}' for student '{student}'", timeout=180_000)
        page.screenshot(path=str(tmp_path / f"autograded-{student}.png"))
        modal.get_by_role("button", name=re.compile("close", re.I)).first.click()
        expect(modal).to_be_hidden()
        expect(row(student).locator(".score")).to_have_text(score)
    page.reload()
    expect(row("ada").locator(".score")).to_have_text("16 / 16")  # after the attack too
    expect(row("ada").locator(".status")).to_have_text("graded")
