# `make demo` and `make test` work on a fresh clone: they create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup gpu system demo test bench kernel build release hub clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# jsonschema imports rfc3987-syntax (jupyter-events asks for jsonschema[format-nongpl]) in every process that reads
	# a notebook, and it builds its Earley parsers at import: 1.2 s of CPU for each nbgrader command, grader and server.
	# It checks only the "iri" formats, which no Jupyter schema uses (python-jsonschema/jsonschema#1428).
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	$(BIN)/python -m graders install-kernel
	touch $@

# Byte-compile the course's own packages (an editable install is not): a sandboxed kernel cannot
# write their .pyc files, so it would compile them again for every notebook it grades.
setup: $(INSTALLED)
	$(BIN)/python -m compileall -q course graders solutions

# On a machine with an NVIDIA GPU: CUDA-enabled TensorFlow beside PyTorch (gigabytes of CUDA libraries).
gpu: setup
	$(BIN)/python -m pip install --quiet -e '.[gpu]'

# Debian packages: bubblewrap (the grading sandbox) and chromium (browser tests); needs root to
# install, and says what to install otherwise (exit 3), which does not stop the tests from running.
system:
	bash .ci/install-system-packages || test $$? -eq 3

demo: setup
	$(BIN)/python -m solutions

# --dist loadscope: a module's tests on one worker (its fixtures made once), each class apart (a bank per assignment)
test: setup system
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadscope

# stock nbgrader autograde against ours on one generated class: speed-up, identical scores, time per notebook
bench: setup system
	$(BIN)/python benchmarks/autograde.py

kernel: setup
	$(BIN)/python -m graders install-kernel

build: setup
	$(BIN)/python -m graders build

release: setup
	$(BIN)/python -m graders release

# The course on a JupyterHub on this machine (root: it creates accounts), until Ctrl-C; README: Run it on JupyterHub.
hub: setup system
	exec $(BIN)/python hub/course_hub.py

clean:
	rm -rf $(VENV) .pytest_cache .exchange
