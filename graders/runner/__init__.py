"""Run a class: grading jobs, the sandbox they run in, and the one process that writes the gradebook."""
