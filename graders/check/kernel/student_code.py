"""Where the student's code failed: the student's own line, out of a traceback.

    short(error)     (graders.check.shared.checks.failures) the message: first lines only, no colour codes
    where(error)     " (in build_model, line 7: `x = ...`)": the innermost frame outside the libraries
    own_frames(error), source_line(frame, line)   for the whole-pipeline cell's explanation

A frame is the student's when its file lies outside Python, the installed libraries and the course's own
packages (`graders`, `course`); TensorFlow's autograph code counts as the library's.
"""

from __future__ import annotations

import linecache
import os
import sysconfig
import traceback
from pathlib import Path

import course
import graders
from graders.check.shared.checks import CheckFailed, step_label
from graders.check.shared.checks.failures import short


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {str(Path(graders.__file__).parent), str(Path(course.__file__).parent)}
    dirs |= {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    return tuple(os.path.realpath(d) + os.sep for d in dirs)


_LIBRARY_DIRS = _library_dirs()


def _is_library(filename: str) -> bool:
    """Code that is not the student's: the libraries, Python's own, and the code that TensorFlow's autograph
    writes for a tf.function (its frames stand for the student's, which its error message quotes)."""
    return (
        filename.startswith("<frozen")
        or "__autograph_generated_file" in filename
        or os.path.realpath(filename).startswith(_LIBRARY_DIRS)
    )


def own_frames(error: BaseException) -> list:
    """(frame, line) of each frame of the traceback outside the libraries, outermost first."""
    return [(frame, line) for frame, line in traceback.walk_tb(error.__traceback__) if not _is_library(frame.f_code.co_filename)]


def source_line(frame, line: int) -> str:
    return linecache.getline(frame.f_code.co_filename, line).strip()


def where(error: BaseException) -> str:
    """' (in build_model, line 7: `x = ...`)' for the innermost frame outside the libraries, if any."""
    frames = own_frames(error)
    if not frames:
        return ""
    frame, line = frames[-1]
    source = source_line(frame, line)
    return f" (in {frame.f_code.co_name}, line {line}" + (f": `{source}`)" if source else ")")


def student_failure(step: str, doing: str, error: BaseException) -> CheckFailed:
    """A CheckFailed that explains an exception raised while running the student's code."""
    label = step_label(step)
    if isinstance(error, NotImplementedError) and not str(error):
        return CheckFailed(f"not implemented yet: replace `raise NotImplementedError()` in the cell of {label}", step=step)
    return CheckFailed(f"{doing} raised {type(error).__name__}: {short(error)}{where(error)}", hint=f"the cell of {label}", step=step)
