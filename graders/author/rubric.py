"""Formgrader shows the grader each written answer's model answer and rubric, under the student's answer.

A written answer's model answer and rubric live in the source notebook only, between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (``generate_assignment`` replaces them with
``YOUR ANSWER HERE``), so the submission that formgrader shows for manual grading has none of
them. `ShowRubric`, an nbconvert preprocessor that ``nbgrader_config.py`` adds to the HTML
exporter, puts that region of the source notebook below each manually graded answer, as a
quote, when formgrader renders one submission for grading. Nothing else changes: feedback is
rendered by the same exporter class but is no submission page, so the student never sees it,
and no notebook on disk holds it.
"""

from __future__ import annotations

import os

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import is_grade, is_solution

BEGIN_SOLUTION = "### BEGIN SOLUTION"  # nbgrader's delimiters of a solution region
END_SOLUTION = "### END SOLUTION"

TITLE = "**Model answer and rubric** (from the source notebook; shown to graders only, never in the feedback)"


def solution_region(source: str) -> str:
    """The text between the BEGIN/END SOLUTION lines of a source cell ('' without them)."""
    lines = source.split("\n")
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN_SOLUTION]
    ends = [i for i, line in enumerate(lines) if line.strip() == END_SOLUTION]
    if not begins or not ends or ends[0] < begins[0]:
        return ""
    return "\n".join(lines[begins[0] + 1 : ends[0]]).strip("\n")


def is_written_answer(cell) -> bool:
    """A manually graded markdown answer: a graded solution cell of markdown."""
    return cell.cell_type == "markdown" and is_grade(cell) and is_solution(cell)


def written_answers(notebook) -> dict[str, str]:
    """grade id -> model answer and rubric, for every manually graded markdown answer of a source notebook."""
    return {
        cell.metadata.nbgrader.grade_id: solution_region(cell.source) for cell in notebook.cells if is_written_answer(cell)
    }


def as_quote(text: str) -> str:
    """Markdown: TITLE, then `text`, as one block quote."""
    return "\n".join(f"> {line}".rstrip() for line in [TITLE, "", *text.split("\n")])


class ShowRubric(Preprocessor):
    """On formgrader's page of one submission, a quoted model answer and rubric below each written answer."""

    def preprocess(self, nb, resources):
        # Formgrader passes the submission's ids; generate_feedback and nbconvert do not.
        if "submission_id" not in resources or "assignment_id" not in resources:
            return nb, resources
        coursedir = CourseDirectory(parent=self)
        path = os.path.join(
            coursedir.format_path(coursedir.source_directory, ".", resources["assignment_id"]),
            f"{resources['notebook_id']}.ipynb",
        )
        try:
            answers = written_answers(nbformat.read(path, as_version=4))
        except (OSError, ValueError) as error:  # a missing or unreadable source notebook: say so, grade anyway
            answers, missing = {}, f"> **Model answer and rubric**: not shown, the source notebook {path} cannot be read ({error})."
        else:
            missing = None
        cells = []
        for cell in nb.cells:
            cells.append(cell)
            if not is_written_answer(cell):
                continue
            grade_id = cell.metadata.nbgrader.grade_id
            text = answers.get(grade_id)
            if text:
                cells.append(nbformat.v4.new_markdown_cell(as_quote(text), metadata={"course": {"rubric": grade_id}}))
            elif missing:
                cells.append(nbformat.v4.new_markdown_cell(missing))
        nb.cells = cells
        return nb, resources
