"""Kept for courses released before the check stage moved: their notebooks import `ComparisonChecks` here."""

from graders.check.comparison import ComparisonChecks  # noqa: F401
