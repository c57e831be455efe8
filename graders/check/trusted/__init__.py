"""The grading process's side of the checks: inputs, held-out images, model files, judges and reference figures.

Never in the grading kernel's file system; imports neither the kernel's side nor a framework.
"""
