"""One lock for whatever builds Python syntax trees in the grading process, whose jobs run in threads.

`AST_LOCK` is held around every call of ours that makes `ast` objects: `ast.parse` and `ast.literal_eval`, and NumPy's
reading of an .npy header (`np.load`, `np.lib.format.read_array_header_*`), which calls `ast.literal_eval`.

CPython 3.11 (3.11.7 here; the same stress passes on 3.10.13, 3.12.1 and 3.13.0) keeps one depth counter per
interpreter for the trees it builds. When a garbage collection inside one thread's build runs Python code (a
finalizer) and the GIL passes to another thread that builds a tree too, the counts cross and the build fails with
``SystemError: AST constructor recursion depth mismatch`` (python/cpython#106905). In the grader that failure fell on
whoever was being judged: a student's observation "is not an array", the check failed and the student lost its
points; or the canary's did, and the class was refused as "the grading environment is broken" (one grading of six
notebooks in four, here).

Python 3.11's traceback formatting parses too (for its carets), out of reach of this lock: only where a traceback is
printed.
"""

from __future__ import annotations

import threading

AST_LOCK = threading.RLock()
