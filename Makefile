# Two commands do all set-up on a fresh machine (Python >= 3.11, no venv needed):
#   make compare   creates .venv on first use, installs mlintegrate, runs the main comparison
#   make test      same .venv (with the test extras), runs the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# constraints.txt pins torch to the CPU build (no multi-GB CUDA wheels) and the tested versions.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: compare test test-fast lint bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e '.[test]'
	touch $(STAMP)

compare: $(STAMP)
	$(BIN)/mlintegrate compare ee_qqg --seed 1 --out results/compare-ee_qqg

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) results .pytest_cache
