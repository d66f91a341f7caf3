# The two commands of the quick start: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test test-long lint typecheck clean bench bench-verify

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# No --host or --port: TOKENWARD_HOST / TOKENWARD_PORT and tokenward.toml choose them, and the
# settings' defaults (127.0.0.1:8080) apply when nothing does.
run: install
	$(BIN)/tokenward serve

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

# Issue 5's fuzzing, crash and concurrency suites with the long bounds: more examples per
# operation and property, more kill points, more concurrent writes; and the packaging test's
# server half (builds the wheel, installs it with the server extra in a fresh environment);
# and the no-escalation property test with 600 examples per backend.
test-long: install
	TOKENWARD_TEST_LONG=1 $(BIN)/pytest tests/fuzz tests/reliability tests/packaging tests/security/test_no_escalation.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The benchmark suite of issue 4: installs wrk and the DRF reference, runs every measurement
# (under 10 minutes, load to 127.0.0.1 only), prints the table, writes bench/RESULTS.md.
bench: install
	command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
	bash bench/drf_venv.sh
	$(BIN)/python bench/run.py

# The verification targets alone (a few minutes), for a before/after comparison of a change
# to the verification path; prints the table and does not write bench/RESULTS.md.
bench-verify: install
	$(BIN)/python bench/run.py verify
