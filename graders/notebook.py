"""Kept for courses released before the check stage moved: their notebooks import `StepChecks` and `grade` here."""

from graders.check.front import grade, guard, register  # noqa: F401
from graders.check.notebook import StepChecks  # noqa: F401
