"""The reference answers as a student who typed them out would have them: the same text, compiled anew.

Their functions behave like the reference's but are other code objects, defined in a "notebook"
of their own, as a student's cells would define them.
"""

from __future__ import annotations

import importlib
import inspect
import linecache
import types


def student_copy(module_name: str) -> types.ModuleType:
    """A new module holding the source of `module_name` (e.g. "solutions.torch_pipeline"), compiled anew."""
    source = inspect.getsource(importlib.import_module(module_name))
    filename = f"<student copy of {module_name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)  # for tracebacks
    copy = types.ModuleType(f"student_copy_of_{module_name.replace('.', '_')}")
    exec(compile(source, filename, "exec"), copy.__dict__)
    return copy
