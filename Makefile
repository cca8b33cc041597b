# Sequence Models for NLP: the whole set-up is `make lab` (study) or `make test` (check).
# Both create .venv with this machine's python3 (3.10+), install the pinned dependencies from
# requirements.lock (torch first, the CPU build), install course_utils in editable mode and
# register the course's Jupyter kernel. A second run reuses .venv and starts in seconds.

PYTHON    ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
LOCK      := requirements.lock
KERNEL    := seq-models-nlp
NB        ?=
LAB_ARGS  ?=
JOBS      ?= 2
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)  # Jupyter refuses root (containers) without it

.DEFAULT_GOAL := help
.PHONY: help venv lab test lint notebooks lock clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $$(grep -E '^torch==' $(LOCK))
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(LOCK) -e ".[course,test]"
	$(BIN)/python -m ipykernel install --user --name $(KERNEL) --display-name "Python 3 (seq-models-nlp)" >/dev/null
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv and install everything (done by lab and test)

lab: $(STAMP)  ## open JupyterLab on notebooks/ (remote machine: make lab LAB_ARGS=--no-browser)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_ARGS) $(LAB_ARGS)

test: $(STAMP)  ## lint, unit tests, and every notebook under nbval in the quick profile (JOBS workers, 1 thread each)
	$(BIN)/ruff check .
	COURSE_PROFILE=quick OMP_NUM_THREADS=1 $(BIN)/pytest -n $(JOBS) --dist loadfile tests notebooks \
		--nbval-lax --nbval-kernel-name python3 --nbval-sanitize-with .ci/nbval_sanitize.cfg --nbval-cell-timeout 600

lint:  $(STAMP)  ## ruff over .py and .ipynb files
	$(BIN)/ruff check .
	$(BIN)/ruff format --check course_utils tests benchmarks

notebooks: $(STAMP)  ## re-run notebooks in the full profile, saving outputs in place (one: make notebooks NB=04)
	COURSE_PROFILE=full $(BIN)/python .ci/run_notebooks.py $(NB)

lock: $(STAMP)  ## rewrite requirements.lock from what .venv holds (after changing pyproject.toml)
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check | sed -E 's/^torch==([0-9.]+)\+cpu/torch==\1/' > $(LOCK)

clean:  ## remove .venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
