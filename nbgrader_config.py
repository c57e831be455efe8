"""nbgrader configuration for the "TensorFlow and PyTorch" course (nbgrader 0.9.6).

The course directory is the folder holding this file (the repository root): `source/`,
`release/`, `submitted/`, `autograded/`, `feedback/` and `gradebook.db` (unless COURSE_DB_URL) live here.
nbgrader reads this file when it runs from this folder; `python -m graders release` and
the grading helpers run it from here.

Formgrader shows each written answer's model answer and rubric (the source notebook's solution
region) under the student's answer, for the grader only (graders/author/rubric.py).

Student code runs in the grading kernel (`tf-pytorch-course-grading`), which the sandbox
provisioner launches (see graders/runner/): stock `nbgrader autograde`, formgrader's Autograde
button and `python -m graders autograde` all grade through it.

Environment overrides:
  COURSE_DB_URL              the gradebook's SQLAlchemy URL, e.g. postgresql+psycopg://user:password@host/db
                             (default: sqlite:///<course>/gradebook.db?timeout=60)
  NBGRADER_EXCHANGE          exchange directory (default: <course>/.exchange, created if missing)
  COURSE_CELL_TIMEOUT        seconds one cell may run during validate/autograde (default 300)
  COURSE_SUBMISSION_TIMEOUT  seconds one submitted notebook's kernel may live (default 1200)
  COURSE_MEMORY_LIMIT        memory of one grading kernel, swap included (default 4G)
  COURSE_DISK_LIMIT          bytes of one grading kernel's working folder and /tmp together (default 1G)
  COURSE_MAX_SUBMISSION_FILE bytes of one submitted file, e.g. 50M (default); larger ones are not collected or read
  COURSE_MAX_SUBMISSION_FILES files of one submission (default 1000); over it, only its notebooks and timestamp.txt are
                             collected or read
  COURSE_UNSAFE_NO_SANDBOX   1: grade even where the sandbox is unavailable (never on a shared machine)
"""

import os

from graders.check.kernel.startup import GRADING_KERNEL_NAME, KERNEL_NAME
from graders.runner.execute import autograde_preprocessors
from graders.runner.gradebook import sanitize_preprocessors
from graders.runner.sandbox import parse_size

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))

# --- course directory ------------------------------------------------------------------------
c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.course_id = "tf-pytorch"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
# The gradebook: a database server when COURSE_DB_URL names one, else a SQLite file here, where
# parallel autograde processes wait for the lock up to 60 s instead of SQLite's default 5 s.
c.CourseDirectory.db_url = (
    os.environ.get("COURSE_DB_URL") or "sqlite:///" + os.path.join(COURSE_ROOT, "gradebook.db") + "?timeout=60"
)

# --- exchange: a folder this user can write, no root needed ----------------------------------
_exchange = os.environ.get("NBGRADER_EXCHANGE") or os.path.join(COURSE_ROOT, ".exchange")
os.makedirs(_exchange, exist_ok=True)
c.Exchange.root = _exchange

# --- submissions are data: collect takes only regular files, never a link's target (graders/runner/collect.py) ---
c.ExchangeFactory.collect = "graders.runner.collect.RegularFilesCollect"
c.RegularFilesCollect.max_file_bytes = parse_size(os.environ.get("COURSE_MAX_SUBMISSION_FILE", "50M"))
c.RegularFilesCollect.max_files = int(os.environ.get("COURSE_MAX_SUBMISSION_FILES", "1000"))
# feedback/ holds the feedback pages only, not the submission's other files nor what grading wrote
c.GenerateFeedback.post_convert_hook = "graders.runner.gradebook.feedback_pages_only"

# --- generate_assignment: what students get --------------------------------------------------
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"  # nbgrader's spelling
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
c.ClearHiddenTests.enforce_metadata = True

# --- formgrader: the model answer and rubric under each written answer (never in the feedback) ---
c.HTMLExporter.preprocessors = ["graders.author.rubric.ShowRubric"]

# --- execution (validate, autograde) ----------------------------------------------------------
# One sandboxed kernel grades all assignments: `python -m graders install-kernel` installs it.
c.Execute.kernel_name = GRADING_KERNEL_NAME
c.Autograde.autograde_preprocessors = autograde_preprocessors()  # completed cells keep their points at a limit
# Validate (a student's Validate button, `nbgrader validate` of one's own notebook) runs in the course kernel, where the
# self-checks' judge lives: the grading kernel holds none of it. Grade submissions with autograde, never validate.
c.Validator.Execute.kernel_name = KERNEL_NAME
# each cell's nbgrader metadata as the gradebook has it: no edit of it stops nbgrader, a made-up graded cell scores nothing
c.Autograde.sanitize_preprocessors = sanitize_preprocessors()
c.Execute.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "300"))
c.SandboxProvisioner.submission_timeout = float(os.environ.get("COURSE_SUBMISSION_TIMEOUT", "1200"))
c.SandboxProvisioner.memory_limit = parse_size(os.environ.get("COURSE_MEMORY_LIMIT", "4G"))
c.SandboxProvisioner.disk_limit = parse_size(os.environ.get("COURSE_DISK_LIMIT", "1G"))
c.SandboxProvisioner.unsafe_no_sandbox = os.environ.get("COURSE_UNSAFE_NO_SANDBOX", "") == "1"
c.Execute.interrupt_on_timeout = True
c.Execute.shutdown_kernel = "immediate"  # a grading kernel is thrown away: no graceful second of waiting
c.Execute.startup_timeout = 120
# Output of a busy TensorFlow cell can trail its reply on a loaded machine; nbgrader makes a
# late output an error (raise_on_iopub_timeout), so wait longer than the default 4 s.
c.Execute.iopub_timeout = 30
