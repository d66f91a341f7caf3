# The two commands of the quick start: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
#: The share of src/tokenward that `make test` covers at the least (measured, rounded down).
COVERAGE_FLOOR := 89
#: Processes that run `make test`'s tests side by side (pytest-xdist). Two per core: most of
#: a worker's time is spent waiting on a server process it started, not on the CPU.
TEST_WORKERS ?= 4
#: Where the tests' files go (pytest's tmp_path): memory where there is a tmpfs. A commit to a
#: SQLite file there costs no fsync, and the tests kill processes, never the machine's power.
TEST_TMPDIR ?= $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm || echo $${TMPDIR:-/tmp})

.PHONY: install run test test-long test-topology lint typecheck clean bench bench-verify bench-tail

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

# SQLite for every test; PostgreSQL for the store's, the crash and concurrency suites and a
# marked share of each face (tests/conftest.py). Coverage below its floor fails the run.
# TEST_WORKERS processes share the tests, a module to each at a time (its fixtures with it).
# The console's tests (tests/console) drive Debian's Chromium; none is ever downloaded.
test: lint typecheck
	test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; }
	PYTEST_DEBUG_TEMPROOT=$(TEST_TMPDIR) $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --cov --cov-fail-under=$(COVERAGE_FLOOR)

# Issue 5's fuzzing, crash and concurrency suites with the long bounds: more examples per
# operation and property, more kill points, more concurrent writes; and the packaging test's
# server half (builds the wheel, installs it with the server extra in a fresh environment);
# the no-escalation property test with 600 examples per backend; and issue 21's read replica
# (starts its own primary and streaming replica, about a minute). Then the PostgreSQL half
# of every other test that `make test` runs on SQLite alone: the whole backend matrix. Then
# the tests marked `long` elsewhere (the operator tools' soak tests under load; see
# docs/contributing/testing.md for the list and why each is there). Last, issue 21's
# topology (`make test-topology`).
test-long: install
	TOKENWARD_TEST_LONG=1 TOKENWARD_TEST_ALL_BACKENDS=1 $(BIN)/pytest tests/fuzz tests/reliability tests/packaging tests/security/test_no_escalation.py tests/replica
	TOKENWARD_TEST_ALL_BACKENDS=1 $(BIN)/pytest -k postgresql --ignore=tests/fuzz --ignore=tests/reliability --ignore=tests/packaging --ignore=tests/security/test_no_escalation.py --ignore=tests/topology --ignore=tests/replica
	TOKENWARD_TEST_LONG=1 TOKENWARD_TEST_ALL_BACKENDS=1 $(BIN)/pytest -m long --ignore=tests/fuzz --ignore=tests/reliability --ignore=tests/packaging --ignore=tests/security/test_no_escalation.py --ignore=tests/topology --ignore=tests/replica
	$(MAKE) --no-print-directory test-topology

# Issue 21's topology alone: three servers behind HAProxy on PostgreSQL and Redis, kill -9 and
# a rolling restart under load, revocation timing (about 5 minutes on 2 loaded cores; the
# figures it prints are in docs/deploy.md).
test-topology: install
	TOKENWARD_TEST_LONG=1 $(BIN)/pytest tests/topology -s

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The benchmark suite of issue 4: installs wrk, redis-server (issue 17's Redis figures run on a
# Redis of their own) and the DRF reference, runs every measurement (under 15 minutes, load to
# 127.0.0.1 only), prints the table, writes bench/RESULTS.md.
# Then the console's token list at 1M tokens (issue 19), one line.
bench: install
	command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
	command -v redis-server >/dev/null || { apt-get update && apt-get install -y redis-server; }
	bash bench/drf_venv.sh
	$(BIN)/python bench/run.py
	$(BIN)/python bench/console_list.py
	$(BIN)/python bench/run.py tail

# The verification targets alone (a few minutes), for a before/after comparison of a change
# to the verification path; prints the table and does not write bench/RESULTS.md.
bench-verify: install
	$(BIN)/python bench/run.py verify

# Issue 21 §3 alone: the PostgreSQL miss and its parts, and the p99 of a server under a
# miss-heavy load on SQLite and PostgreSQL (bench/tail.py); prints the table.
bench-tail: install
	$(BIN)/python bench/run.py tail
