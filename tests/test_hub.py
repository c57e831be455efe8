"""The course on a real JupyterHub (hub/, `make hub`), in Debian's Chromium: real accounts, one exchange, formgrader for staff.

The hub's set-up (hub/course_hub.py) runs as root: it creates the Unix accounts of hub/layout.py
(their homes under a hub root in the temp folder), the students' environment (kept from run to run), the exchange,
the course directory in the grading account's home and a cgroup delegated to that account. Then
JupyterHub runs as `make hub` runs it; people log in through its PAM authenticator, each server runs
as its user. In order (a stage whose predecessor failed is skipped):

0. The grading account, in the cgroup delegated to it, has the whole sandbox; outside it, grading
   refuses in one line (the control).
1. instructor1 generates and releases ``torch_pipeline`` in formgrader, the course's JupyterHub
   service (run as the grading account); instructor2, the second grader, opens formgrader too.
2. student1 and student2 log in, fetch, have their answers (student2's step 2 does not shuffle, which
   only the hidden tests see), type ``build_model`` and read its ✓, validate and submit.
3. instructor1 collects, autogrades each submission in the grading sandbox (formgrader's Autograde,
   as the grading account), comments on student2's step 2 by hand, generates and releases feedback.
4. A student is kept out: the hub refuses them formgrader (403), their own server has none (404),
   and from a notebook in their server they can read neither the course directory, its gradebook,
   ``source/`` and the other student's collected submission, nor the exchange's submissions and
   feedback, nor the other student's home. The control: the grading account's home made readable
   by all, the same notebook reads the course.
5. Ctrl-C (SIGINT) stops the hub: no process of it or of its accounts is left; a second start
   reuses the accounts and the course, and formgrader shows the same grades.
6. Each student fetches their feedback, and only their own.

Screenshots of each stage land in its test's tmp_path. Skipped where not root (it creates accounts).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import _alive, descendants
from submissions import REPO, reference_fills
from test_course_walk import (
    GOOD_MODEL,
    UNSHUFFLED,
    assignment_row,
    assignments_panel,
    close_modal,
    exactly,
    expect,
    fetch,
    formgrader_row,
    grade_index,
    open_fetched,
    run_cells,
    shot,
    stderr,
    stdout,
    submission_row,
    type_into,
    write_notebook,
)

sys.path.insert(0, str(REPO / "hub"))
from layout import COURSE_ID, GRADER, INSTRUCTORS, PROXY, STAFF_PYTHON, STUDENTS, Layout  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the hub's set-up creates Unix accounts: run as root"),
]

TORCH = "torch_pipeline"
TIMEOUT_MS = 60_000
GRADING_MS = 180_000
GOOD, UNSHUFFLING = STUDENTS[:2]  # student1: every step right; student2: step 2 does not shuffle
SCORES = {GOOD: "16 / 16", UNSHUFFLING: "13 / 16"}
COMMENT = "Shuffle the training batches every epoch: DataLoader(..., shuffle=True)."
SHUFFLE_FAILURE = "train batches come in the same order every epoch"


# ---- the hub ------------------------------------------------------------------------------------------


def free_ports(count: int) -> int:
    """A port with the `count` - 1 after it free too (the hub's layout uses four in a row)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + count < 65536 and all(_free(port + i) for i in range(count)):
            return port
    raise RuntimeError("no four free ports in a row")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Hub:
    """JupyterHub as `make hub` runs it (hub/jupyterhub_config.py), on `layout`; stopped with SIGINT, as Ctrl-C does."""

    def __init__(self, layout: Layout, log: Path):
        self.layout, self.log_path = layout, log
        self.process: subprocess.Popen | None = None
        self.spawned: set[int] = set()

    def start(self) -> None:
        env = os.environ | {"HUB_ROOT": str(self.layout.root), "HUB_PORT": str(self.layout.port)}
        command = [str(Path(sys.prefix) / "bin" / "jupyterhub"), "-f", str(REPO / "hub" / "jupyterhub_config.py")]
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(command, cwd=self.layout.state, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        formgrader = f"http://127.0.0.1:{self.layout.formgrader_port}/services/{COURSE_ID}/api/status"
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"jupyterhub exited with {self.process.returncode}:\n{self.log_tail()}"
            if _status(f"{self.layout.url}/hub/api/") == 200 and _status(formgrader):  # routed; formgrader answers
                return
            time.sleep(0.5)
        raise AssertionError(f"the hub did not come up within 120 s:\n{self.log_tail()}")

    def remember_children(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.spawned.update(descendants(self.process.pid))

    def stop(self) -> float:
        """SIGINT, as Ctrl-C; the seconds until the hub exited."""
        self.remember_children()
        start = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise AssertionError(f"the hub did not stop within 90 s of SIGINT:\n{self.log_tail()}") from None
        return time.monotonic() - start

    def leftovers(self, grace: float = 10) -> list[str]:
        """Processes the hub started, or of its accounts, still alive `grace` seconds on (one still ending its exit
        has no command line yet, and ends within milliseconds)."""
        deadline = time.monotonic() + grace
        while (found := self._live_pids()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return [_command(pid) for pid in found]

    def _live_pids(self) -> list[int]:
        uids = {pwd.getpwnam(user).pw_uid for user in (GRADER, *INSTRUCTORS, *STUDENTS)}
        found = [pid for pid in sorted(self.spawned) if _alive(pid)]
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError):
                uid = int(next(line for line in status.read_text().splitlines() if line.startswith("Uid:")).split()[1])
                if uid in uids and _alive(int(status.parent.name)):
                    found.append(int(status.parent.name))
        return sorted(set(found))

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _status(url: str) -> int | None:
    """The HTTP status of a GET of `url`; None when no server answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _command(pid: int) -> str:
    with contextlib.suppress(OSError):
        return f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    return str(pid)


class Course:
    """The hub, its layout and the people's browsers; `failed`: the first stage that failed."""

    def __init__(self, layout: Layout, hub: Hub, browser):
        self.layout, self.hub, self.browser = layout, hub, browser
        self.passwords = json.loads(layout.passwords.read_text())
        self.pages: dict[str, object] = {}
        self.failed = ""

    @property
    def formgrader(self) -> str:
        return f"{self.layout.url}/services/{COURSE_ID}"

    def notebook(self, student: str) -> Path:
        return self.layout.home(student) / TORCH / f"{TORCH}.ipynb"

    def page(self, user: str, next_url: str = "/hub/spawn"):
        """`user`'s browser, logged in through the hub's login form (once), at `next_url`."""
        if user not in self.pages:
            context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.goto(f"{self.layout.url}/hub/login?next={urllib.parse.quote(next_url)}")
            page.fill("#username_input", user)
            page.fill("#password_input", self.passwords[user])
            page.click("#login_submit")
            page.wait_for_url(lambda url: "/hub/login" not in url)
            self.pages[user] = page
            self.response = None
        else:
            page = self.pages[user]
            self.response = page.goto(f"{self.layout.url}{next_url}")
        return page

    def lab(self, user: str):
        """`user`'s own JupyterLab (the hub starts their server when it is not running)."""
        page = self.page(user, "/hub/spawn")
        page.locator(".lm-MenuBar-itemLabel", has_text=exactly("Nbgrader")).wait_for(timeout=120_000)  # loaded
        return page


@pytest.fixture(scope="module")
def course(browser, tmp_path_factory):
    from course_hub import set_up

    if not PROXY.exists() and shutil.which("npm") is None:
        pytest.skip("npm is missing (Debian: apt-get install npm): the hub's proxy comes from npm")
    # not pytest's tmp folder, which the accounts cannot reach; the students' environment is kept from run to run
    layout = Layout(Path(tempfile.gettempdir()) / "course-hub-test", free_ports(4))
    clean_hub_root(layout)
    logs = tmp_path_factory.mktemp("hub-logs")
    try:
        try:
            set_up(layout)
        except SystemExit as error:
            pytest.fail(str(error))
        hub = Hub(layout, logs / "jupyterhub.log")
        hub.start()
        course = Course(layout, hub, browser)
        yield course
        for page in course.pages.values():
            page.context.close()
        if hub.process.poll() is None:
            hub.stop()
        assert hub.leftovers() == [], "processes left after the hub stopped"
    finally:
        clean_hub_root(layout)


def clean_hub_root(layout: Layout) -> None:
    """Remove the hub root's state, homes, exchange and course: all but the students' environment."""
    for entry in layout.root.glob("*"):
        if entry != layout.student_venv:
            subprocess.run(["rm", "-rf", str(entry)], check=True)


@pytest.fixture(autouse=True)
def one_stage_after_another(request, course, tmp_path):
    if course.failed:
        pytest.skip(f"needs the earlier stage {course.failed}, which failed")
    before = request.session.testsfailed
    yield
    if request.session.testsfailed > before:
        course.failed = request.node.name
        for user, page in course.pages.items():
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / f"failed-{user}.png"))
        (tmp_path / "jupyterhub.log").write_text(course.hub.log_tail(400))


# ---- what people do ------------------------------------------------------------------------------------


PROBE = """\
import json, os

def attempt(action):
    try:
        action()
        return "allowed"
    except PermissionError:
        return "refused"
    except OSError as error:
        return type(error).__name__

print(json.dumps({{
    "course directory": attempt(lambda: os.listdir({course!r})),
    "gradebook": attempt(lambda: open({course!r} + "/gradebook.db", "rb").close()),
    "source": attempt(lambda: os.listdir({course!r} + "/source")),
    "the other student's collected submission": attempt(lambda: os.listdir({course!r} + "/submitted/{other_student}")),
    "submissions in the exchange": attempt(lambda: os.listdir({exchange!r} + "/inbound")),
    "feedback in the exchange": attempt(lambda: os.listdir({exchange!r} + "/feedback")),
    "the other student's home": attempt(lambda: os.listdir({other_home!r})),
}}))
"""


def breaches(observed: dict[str, str]) -> list[str]:
    """What a student could read that is not theirs (empty: separated)."""
    return [what for what, outcome in observed.items() if outcome != "refused"]


def run_probe(page, panel) -> dict[str, str]:
    """Run the probe cell (Ctrl+Enter; again while its kernel has not taken it yet) and read what it printed."""
    first = panel.locator(".jp-Cell").first

    def count() -> int:  # the cell's execution count, 0 before its first run
        number = re.search(r"\[(\d+)\]", first.locator(".jp-InputPrompt").inner_text())
        return int(number.group(1)) if number else 0

    before = count()
    for _ in range(4):
        first.locator(".cm-content").click()
        page.keyboard.press("Control+Enter")
        deadline = time.monotonic() + 15
        while count() <= before and time.monotonic() < deadline:
            time.sleep(0.2)
        if count() > before:
            return json.loads(stdout(panel, 0).inner_text())
    raise AssertionError("the probe cell did not run in 60 s")


def submit_torch_pipeline(course: Course, student: str, tmp_path: Path) -> None:
    """Fetch, answers written, build_model typed and self-checked, Validate, Submit (as in the round trip)."""
    page = course.lab(student)
    fetch(page, TORCH)
    fills = reference_fills(TORCH) | ({"load_and_preprocess": UNSHUFFLED} if student == UNSHUFFLING else {})
    del fills["build_model"]
    notebook = write_notebook(course.notebook(student), fills)  # root writes; the file stays the student's
    model, model_check = grade_index(notebook, "build_model"), grade_index(notebook, "build_model_tests")
    nb = open_fetched(page, TORCH)
    run_cells(page, nb, 1)
    expect(stdout(nb, 1)).to_contain_text("Checks ready: framework torch")
    type_into(page, nb, model, GOOD_MODEL)
    run_cells(page, nb, model, 2)
    expect(stdout(nb, model_check)).to_contain_text(re.compile(r"^✓ step 3 \(build_model\)"))
    expect(stderr(nb, model_check)).to_have_count(0)
    shot(page, tmp_path, f"{student}-1-self-check", stdout(nb, model_check))

    nb.locator(".jp-NotebookPanel-toolbar .validate-button").click()
    dialog = page.locator(".jp-Dialog").filter(has_text="Validation Results")
    expect(dialog).to_contain_text("Success! Your notebook passes all the tests.", timeout=180_000)
    shot(page, tmp_path, f"{student}-2-validated")
    dialog.get_by_role("button", name=re.compile("Ok", re.I)).click()

    panel = assignments_panel(page)
    assignment_row(panel, "fetched", TORCH).get_by_role("button", name="Submit").click()
    expect(assignment_row(panel, "submitted", TORCH)).to_be_visible(timeout=TIMEOUT_MS)
    shot(page, tmp_path, f"{student}-3-submitted")


# ---- the stages -----------------------------------------------------------------------------------------


def test_the_grading_account_has_the_whole_sandbox_only_in_its_delegated_cgroup(course):
    """As the grading account, in the cgroup the set-up delegated to it (as its formgrader server is), the
    sandbox lacks nothing; outside it (the control), grading refuses, in one line that names the cgroup."""
    check = ("from graders.runner.sandbox import problems, refusal; missing = problems(); "
             "print(refusal(missing) if missing else 'ready')")

    def as_grader(join: list[str]) -> str:
        shell = "".join(f"echo $$ > {shlex.quote(procs)} && " for procs in join) + f"exec {STAFF_PYTHON} -c {shlex.quote(check)}"
        done = subprocess.run(
            ["setpriv", f"--reuid={GRADER}", f"--regid={GRADER}", "--clear-groups", "sh", "-c", shell],
            cwd=course.layout.course, env={"HOME": str(course.layout.home(GRADER)), "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert as_grader(json.loads(course.layout.cgroup.read_text())["join"]) == "ready"
    refused = as_grader([])
    assert refused.startswith("refusing to run student code without the grading sandbox: ") and "cgroup" in refused, refused
    assert "\n" not in refused


def test_instructor_releases_in_formgrader_on_the_hub(course, tmp_path):
    page = course.page(INSTRUCTORS[0], f"/services/{COURSE_ID}/formgrader/manage_assignments")
    row = formgrader_row(page, TORCH)
    row.locator("td.assign a").click()
    close_modal(page, f"Successfully created the student version of '{TORCH}'", timeout=120_000)
    row.locator("td.release a").click()
    close_modal(page, f"Successfully released '{TORCH}'")
    shot(page, tmp_path, "1-released")
    outbound = course.layout.exchange / COURSE_ID / "outbound" / TORCH / f"{TORCH}.ipynb"
    assert pwd.getpwuid(outbound.stat().st_uid).pw_name == GRADER, "formgrader runs as the grading account"

    second = course.page(INSTRUCTORS[1], f"/services/{COURSE_ID}/formgrader/manage_assignments")
    expect(formgrader_row(second, TORCH).locator("td.status")).to_have_text(exactly("released"))
    shot(second, tmp_path, "2-second-grader")


def test_two_students_fetch_check_validate_and_submit(course, tmp_path):
    for student in (GOOD, UNSHUFFLING):
        submit_torch_pipeline(course, student, tmp_path)
    inbound = course.layout.exchange / COURSE_ID / "inbound"
    assert sorted(p.name.split("+")[0] for p in inbound.iterdir()) == [GOOD, UNSHUFFLING]
    assert inbound.stat().st_mode & 0o7777 == 0o2733, "students may write the inbound folder, not list it"


def test_instructor_collects_autogrades_in_the_sandbox_reviews_and_returns_feedback(course, tmp_path):
    page = course.page(INSTRUCTORS[0], f"/services/{COURSE_ID}/formgrader/manage_assignments")
    formgrader_row(page, TORCH).locator("td.collect a").click()
    close_modal(page, f"Successfully collected submissions of '{TORCH}'")
    expect(formgrader_row(page, TORCH).locator("td.num-submissions")).to_have_text(exactly("2"))
    page.goto(f"{course.formgrader}/formgrader/manage_submissions/{TORCH}")
    for student, score in SCORES.items():
        row = submission_row(page, student)
        row.locator("td.autograde a").click()
        close_modal(page, f"Successfully autograded '{TORCH}' for student '{student}'", timeout=GRADING_MS)
        expect(row.locator(".score")).to_have_text(score)
    shot(page, tmp_path, "1-autograded")
    autograded = course.layout.course / "autograded" / UNSHUFFLING / TORCH / f"{TORCH}.ipynb"
    assert pwd.getpwuid(autograded.stat().st_uid).pw_name == GRADER, "grading ran as the grading account"
    graded = nbformat.read(autograded, as_version=4)
    failure = graded.cells[grade_index(graded, "load_and_preprocess_tests")]
    assert SHUFFLE_FAILURE in json.dumps(failure.outputs), "the hidden test ran, in the sandbox's kernel"

    page.goto(f"{course.formgrader}/formgrader/manage_students/{UNSHUFFLING}/{TORCH}")
    with page.expect_response(lambda response: "/formgrader/api/comments" in response.url):  # loaded, then typed into
        page.locator("#main-table a[href*='/formgrader/submissions/']").first.click()
    expect(page.locator("input.score").first).to_have_attribute("placeholder", re.compile(r"\d"))
    comment = page.locator("textarea#load_and_preprocess-comment")
    comment.fill(COMMENT)
    with page.expect_response(lambda response: "/formgrader/api/comment/" in response.url and response.request.method == "PUT"):
        comment.press("Tab")  # formgrader saves the comment
    shot(page, tmp_path, "2-reviewed", comment)
    page.reload()
    expect(page.locator("textarea#load_and_preprocess-comment")).to_have_value(COMMENT)

    page.goto(f"{course.formgrader}/formgrader/manage_assignments")
    row = formgrader_row(page, TORCH)
    row.locator("td.generate-feedback a").click()
    close_modal(page, f"Successfully generated feedback of '{TORCH}'", timeout=120_000)
    row.locator("td.release-feedback a").click()
    close_modal(page, f"Successfully released feedback of '{TORCH}'")
    shot(page, tmp_path, "3-feedback-released")


def test_a_student_is_kept_out_of_the_course_and_the_other_students_work(course, tmp_path):
    page = course.page(UNSHUFFLING, f"/services/{COURSE_ID}/formgrader")
    assert course.response.status == 403, f"the hub answered {course.response.status} to a student at formgrader"
    shot(page, tmp_path, "1-formgrader-refused")
    response = page.goto(f"{course.layout.url}/user/{UNSHUFFLING}/formgrader")
    assert response.status == 404, "the students' JupyterLab has no formgrader"

    exchange, course_dir = course.layout.exchange / COURSE_ID, course.layout.course
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        PROBE.format(course=str(course_dir), exchange=str(exchange), other_student=GOOD, other_home=str(course.layout.home(GOOD))))])
    probe.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = course.layout.home(UNSHUFFLING) / "probe.ipynb"
    nbformat.write(probe, path)
    account = pwd.getpwnam(UNSHUFFLING)
    os.chown(path, account.pw_uid, account.pw_gid)

    page = course.page(UNSHUFFLING, f"/user/{UNSHUFFLING}/lab/tree/probe.ipynb")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(page.locator(".jp-StatusBar-Widget", has_text="Python 3 (ipykernel) | Idle")).to_be_visible(timeout=120_000)  # connected, the kernel started
    observed = run_probe(page, panel)
    shot(page, tmp_path, "2-separated")
    assert len(observed) == 7, observed
    assert breaches(observed) == [], f"a student could read: {breaches(observed)}"

    grader_home = course.layout.home(GRADER)
    grader_home.chmod(0o755)  # the control: one permission loosened
    try:
        loosened = run_probe(page, panel)
        shot(page, tmp_path, "3-control-loosened")
    finally:
        grader_home.chmod(0o700)
    assert breaches(loosened) == ["course directory", "gradebook", "source", "the other student's collected submission"], loosened
    assert breaches(run_probe(page, panel)) == []


def test_ctrl_c_stops_everything_and_a_restart_keeps_the_grades(course, tmp_path):
    seconds = course.hub.stop()
    assert course.hub.leftovers() == [], "processes left after Ctrl-C"
    (tmp_path / "stop-seconds.txt").write_text(f"{seconds:.1f}\n")
    from course_hub import set_up

    set_up(course.layout)  # as `make hub` does on every start
    course.hub.start()
    page = course.page(INSTRUCTORS[0], f"/services/{COURSE_ID}/formgrader/manage_submissions/{TORCH}")
    for student, score in SCORES.items():
        expect(submission_row(page, student).locator(".score")).to_have_text(score)
    shot(page, tmp_path, "1-grades-after-restart")


def test_each_student_fetches_their_own_feedback(course, tmp_path):
    for student in (GOOD, UNSHUFFLING):
        page = course.lab(student)
        panel = assignments_panel(page)
        row = assignment_row(panel, "submitted", TORCH)
        row.get_by_role("button", name="Fetch Feedback").click()
        expect(row.locator(".nested_list_item a", has_text="view feedback")).to_be_visible(timeout=TIMEOUT_MS)
        shot(page, tmp_path, f"{student}-feedback-fetched")
        pages = list((course.layout.home(student) / TORCH / "feedback").glob(f"*/{TORCH}.html"))
        assert len(pages) == 1, pages  # their own submission's feedback, no one else's
        html = pages[0].read_text()
        assert (SHUFFLE_FAILURE in html, COMMENT in html) == ((True, True) if student == UNSHUFFLING else (False, False))
