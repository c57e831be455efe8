"""The reference answers as a student who typed them out would have them: the same text, compiled anew.

Their functions behave like the reference's but are other code objects, defined in a "notebook"
of their own, as a student's cells would define them; what they import from another reference
module (the comparison's `MLP`) is that module's copy, as the notebook's given cells are.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import linecache
import types


@functools.cache
def student_copy(module_name: str) -> types.ModuleType:
    """A new module holding the source of `module_name` (e.g. "solutions.torch_pipeline"), compiled anew."""
    source = inspect.getsource(importlib.import_module(module_name))
    filename = f"<student copy of {module_name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)  # for tracebacks
    copy = types.ModuleType(f"student_copy_of_{module_name.replace('.', '_')}")
    exec(compile(source, filename, "exec"), copy.__dict__)
    for name, value in list(vars(copy).items()):
        origin = getattr(value, "__module__", None)
        if (inspect.isclass(value) or inspect.isfunction(value)) and origin and origin.startswith("solutions."):
            setattr(copy, name, getattr(student_copy(origin), name))
    return copy
