# Sequence Models for NLP: the whole set-up is `make lab` (study) or `make test` (check).
# Both create .venv with this machine's python3 (3.10 to 3.13) and run .ci/install.py in it: torch
# first, the build that fits the machine (CPU build without an NVIDIA GPU; TORCH=cpu|cuda to
# choose), then the pinned versions of requirements.lock and course_utils in editable mode.
# Nothing is written outside this folder. A second run reuses .venv and starts in seconds.

PYTHON    ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
LOCK      := requirements.lock
NB        ?=
LAB_ARGS  ?=
TORCH     ?=
JOBS      ?= 2
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)  # Jupyter refuses root (containers) without it

# A .venv whose Python has gone (e.g. upgraded away by Homebrew) is made again: forget its stamp.
ifneq ($(wildcard $(STAMP)),)
ifneq ($(shell $(BIN)/python -c 'print("ok")' 2>/dev/null),ok)
$(shell rm -f $(STAMP))
endif
endif

.DEFAULT_GOAL := help
.PHONY: help venv lab test lint notebooks lock check-python clean FORCE

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# TORCH=... on the command line re-runs the install, so that the build can be switched.
$(STAMP): $(LOCK) pyproject.toml .ci/install.py $(if $(TORCH),FORCE)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed, found " + sys.version.split()[0] + "; see README.md")'
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; v > (3, 13) and print("note: Python %d.%d is newer than the course has been tested with (3.10 to 3.13)" % v)'
	$(PYTHON) .ci/install.py --venv $(VENV) --lock $(LOCK) $(if $(TORCH),--torch $(TORCH))
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv and install everything (done by lab and test)

lab: $(STAMP)  ## open JupyterLab on the course map (remote machine: make lab LAB_ARGS="--no-browser --port 8890")
	$(BIN)/jupyter lab --notebook-dir=notebooks --LabApp.default_url=/lab/tree/00_course_map.ipynb $(ROOT_ARGS) $(LAB_ARGS)

test: $(STAMP)  ## lint, unit tests, and every notebook under nbval in the quick profile (JOBS workers, 1 thread each)
	$(BIN)/ruff check .
	COURSE_PROFILE=quick OMP_NUM_THREADS=1 $(BIN)/pytest -n $(JOBS) --dist loadfile tests notebooks \
		--nbval-lax --nbval-kernel-name python3 --nbval-sanitize-with .ci/nbval_sanitize.cfg --nbval-cell-timeout 600

lint:  $(STAMP)  ## ruff over .py and .ipynb files
	$(BIN)/ruff check .
	$(BIN)/ruff format --check course_utils tests benchmarks .ci

notebooks: $(STAMP)  ## re-run notebooks in the full profile, saving outputs in place (one: make notebooks NB=04)
	COURSE_PROFILE=full $(BIN)/python .ci/run_notebooks.py $(NB)

lock: $(STAMP)  ## rewrite requirements.lock: .venv's versions, plus markers for other Pythons (after changing pyproject.toml)
	$(BIN)/python .ci/lock.py write

check-python: $(STAMP)  ## check that requirements.lock installs on every Python 3.10-3.13 found here (pip --dry-run)
	$(BIN)/python .ci/lock.py check

clean:  ## remove .venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
