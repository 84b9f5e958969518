# beatrun: `make demo` and `make test` do all their own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DEMO_DIR ?= demo-output

.PHONY: demo test lint bench bench-real clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(STAMP)
	BEATRUN_LIBRARY=$(DEMO_DIR)/library.db $(BIN)/python -m beatrun.demo $(DEMO_DIR)

test: $(TEST_STAMP)
	$(BIN)/python -m ruff check beatrun tests benchmarks
	$(BIN)/python -m pytest -q

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/tempo.py

# Real music: LMMS demo songs (needs Debian's lmms and lmms-common; renders cached in
# bench-output/lmms/). Not part of CI.
bench-real: $(TEST_STAMP)
	$(BIN)/python benchmarks/tempo_real.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache build *.egg-info
