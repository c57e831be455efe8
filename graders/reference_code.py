"""The course's reference answers (`solutions/`), where this environment has them.

Staff and grading environments install the reference; the students' install does not
(`graders.author.student`). The checks import it through `optional`, which gives None where it
is absent: the self-checks then build their inputs from the student's own earlier steps
(see graders.notebook).
"""

from __future__ import annotations

import importlib


def optional(module: str):
    """The reference module `module` (e.g. "solutions.torch_pipeline"), or None where `solutions` is not installed.

    Any other missing module (TensorFlow, PyTorch) still raises.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name in ("solutions", module):
            return None
        raise
