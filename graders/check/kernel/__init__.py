"""The grading kernel's side of the checks: the probes, the framework adapters, quiet streams, the student's line.

The sandbox mounts this folder and `graders.check.shared`, and nothing else of `graders` but the notebooks' fronts
(`graders.runner.sandbox.KERNEL_SIDE`): nothing here computes a step's answer.
"""
