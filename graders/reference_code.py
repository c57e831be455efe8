"""The course's reference answers (`solutions/`), where this environment has them, and a watch on their use.

Staff and grading environments install the reference; the students' install does not
(`graders.author.student`). The checks import it through `optional`, which gives None where it
is absent: the self-checks then build their inputs from the student's own earlier steps
(see graders.notebook).

At grading, a step that is, or calls into, reference code scores 0. A `Watch` sees which Python
code runs while a student's function runs (`Watch.wrap`) or while a block runs
(`Watch.watching`): a profile hook (``sys.setprofile``, and ``threading.setprofile`` for threads
started meanwhile) is on only then. The reference's code is known by identity, not by its text:
each reference module's functions (with the functions nested in them) and its classes'
``__init__``, collected from the module's namespace when its code first runs. Methods such as
``MLP.forward`` are not flagged: a student's train legitimately runs the reference model the
checker hands it. A call to ``sys.setprofile``/``sys.settrace`` (or ``threading``'s) during a
watched call switches the watch off, and fails the step too.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import inspect
import sys
import threading
from types import CodeType

from graders.checks.failures import CheckFailed

USES_REFERENCE = "uses the reference solution"  # how a failure names a step that ran reference code
REFERENCE_MODULES = (
    "solutions.tf1_pipeline",
    "solutions.tf2_pipeline",
    "solutions.torch_pipeline",
    "solutions.comparison",
    "solutions.pipeline",
)

# Taken when graders is first imported, before any student cell runs: rebinding sys.setprofile later
# does not reach the watch.
_set_profile, _get_profile = sys.setprofile, sys.getprofile
_set_thread_profile, _get_thread_profile = threading.setprofile, threading.getprofile
_TAMPERING = {  # id of what a student may not call while watched -> its name
    id(sys.setprofile): "sys.setprofile",
    id(sys.settrace): "sys.settrace",
    id(threading.setprofile.__code__): "threading.setprofile",
    id(threading.settrace.__code__): "threading.settrace",
}


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


def _code_tree(code: CodeType):
    """`code` and every code object nested in it (inner functions, comprehensions)."""
    yield code
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _code_tree(constant)


class _ReferenceCode:
    """The reference's code objects, each with the name of the function or class it belongs to.

    `files` holds the reference modules' files. A module's code objects are collected from the
    namespace a code object of that file runs in, when one runs that is not known yet: on its
    module's first use (a watched call may be what imports it), or after a reload.
    """

    def __init__(self):
        package = optional("solutions")
        specs = [importlib.util.find_spec(name) for name in REFERENCE_MODULES] if package is not None else []
        self.files = {spec.origin for spec in specs if spec is not None}
        self._names: dict[int, tuple[CodeType, str | None]] = {}  # id(code) -> (code, its owner's name or None)

    def name_of(self, frame) -> str | None:
        """'solutions.torch_pipeline.train' when the frame (of a reference file) runs that function or code
        nested in it, 'solutions.torch_pipeline.MLP' for that class's __init__; None for other code."""
        code, namespace = frame.f_code, frame.f_globals
        known = self._names.get(id(code))  # the code objects are kept, so their ids stay theirs
        if known is None:
            if getattr(namespace.get("__spec__"), "_initializing", False):  # the module's own code, importing it
                return None
            self._collect(namespace)
            known = self._names.setdefault(id(code), (code, None))  # None: a method, not flagged
        return known[1]

    def _collect(self, namespace: dict) -> None:
        module = namespace.get("__name__")
        for value in list(namespace.values()):
            if inspect.isfunction(value):
                value = inspect.unwrap(value)  # e.g. torch.no_grad()'s wrapper
                code = value.__code__
            elif inspect.isclass(value) and inspect.isfunction(value.__dict__.get("__init__")):
                code = value.__dict__["__init__"].__code__
            else:
                continue
            if value.__module__ == module:
                for inner in _code_tree(code):
                    self._names[id(inner)] = (inner, f"{module}.{value.__name__}")


_REFERENCE = _ReferenceCode()


class Watch:
    """Records the reference code that runs while student code runs, and any attempt to switch the watch off.

    Off (`wrap` and `watching` change nothing) where the reference is not installed, or when `on` is False.
    """

    def __init__(self, on: bool = True):
        self.on = on and bool(_REFERENCE.files)
        self.used: dict[str, None] = {}  # names of the reference functions that ran, in order
        self.tampered: dict[str, None] = {}  # what was called to switch the watch off
        self._allowed: set[int] = set()  # ids of reference code the checker substitutes on purpose
        self._hook = self._make_hook()

    def _make_hook(self):
        files = _REFERENCE.files | {threading.__file__}  # threading: its setprofile and settrace
        tampering, ran = _TAMPERING, self._ran

        def hook(frame, event, arg):  # per Python call: one set lookup; per C call: one for the setprofile builtins
            if event == "call":
                if frame.f_code.co_filename in files:
                    ran(frame)
            elif event == "c_call" and id(arg) in tampering and frame.f_globals.get("__name__") != __name__:
                self.tampered.setdefault(tampering[id(arg)])

        return hook

    def _ran(self, frame) -> None:
        code = frame.f_code
        if id(code) in _TAMPERING:
            if frame.f_back is None or frame.f_back.f_globals.get("__name__") != __name__:
                self.tampered.setdefault(_TAMPERING[id(code)])
        elif code.co_filename in _REFERENCE.files and id(code) not in self._allowed:
            if (name := _REFERENCE.name_of(frame)) is not None:
                self.used.setdefault(name)

    @contextlib.contextmanager
    def watching(self):
        """Watch the block (in this thread, and in threads it starts); inside an active watch, just run it."""
        if not self.on or _get_profile() is self._hook:
            yield
            return
        previous, previous_threads = _get_profile(), _get_thread_profile()
        _set_thread_profile(self._hook)
        _set_profile(self._hook)
        try:
            yield
        finally:
            if _get_profile() is not self._hook:
                self.tampered.setdefault("sys.setprofile")  # switched off by something the hook did not see
            _set_profile(previous)
            _set_thread_profile(previous_threads)

    def wrap(self, value):
        """`value` watched during each of its calls, from wherever they come; a value that is not callable as it is."""
        if not self.on or not callable(value):
            return value

        def watched(*args, **kwargs):
            with self.watching():
                return value(*args, **kwargs)

        return functools.wraps(value)(watched) if inspect.isfunction(value) or inspect.ismethod(value) else watched

    @contextlib.contextmanager
    def allowing(self, *functions):
        """Meanwhile, `functions` (reference functions the checker itself puts in the student's reach) are not flagged."""
        codes = {id(code) for function in functions for code in _code_tree(inspect.unwrap(function).__code__)}
        added = codes - self._allowed
        self._allowed |= added
        try:
            yield
        finally:
            self._allowed -= added

    def failure(self, label: str) -> CheckFailed | None:
        """What to fail the step `label` ('step 6 (train)') with: it used reference code, or switched the watch off."""
        if self.used:
            return ReferenceUsed(
                f"{label} {USES_REFERENCE} ({', '.join(self.used)}): a graded step must be the "
                "student's own code, so this step scores 0."
            )
        if self.tampered:
            return ReferenceUsed(
                f"{label} switched the grader's watch off (it called {', '.join(self.tampered)} while it was checked), "
                "so this step scores 0."
            )
        return None


class ReferenceUsed(CheckFailed):
    """A graded step ran reference code, or switched the watch off: the step scores 0. The message is the whole line."""

    def line(self) -> str:
        return self.what
