"""The check stage: what decides each step of a submission, in two sides that never import each other.

    check/notebook.py, check/comparison.py   what the notebooks call (`StepChecks`, `ComparisonChecks`), both
                     built on check/front.py (`Checks`; `grade`, the hidden tests' call; `guard`)
    check/kernel/    the grading kernel's side, the only part of `graders` the sandbox mounts: call the
                     student's function on the grader's inputs and hand back what came out (the probes),
                     convert each framework's objects (`frameworks/`), quiet streams, find the student's line
    check/trusted/   the grading process's side: the inputs, the held-out images, the model files, the
                     judges and the reference figures; never imported in the grading kernel, and free of
                     TensorFlow and PyTorch
    check/shared/    what both sides agree on: the steps, the observation's format, the checks' messages and
                     each framework's hints, and the registry of the two exercises (`exercises.exercise(kind)`)

At grading, the grading process writes a step's inputs (`trusted`), the kernel observes the student's
function on them (`kernel`), and the grading process judges the observation (`trusted`). For a self-check
in a student's own kernel, the notebook's front object runs both halves there, on the public inputs.
The import contracts are in pyproject.toml ([tool.importlinter]); `make test` runs `lint-imports`.
"""
