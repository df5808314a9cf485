# Every target bootstraps .venv on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CT     := $(VENV)/bin/contracttape
STAMP  := $(VENV)/.installed
BUDGET ?=
TARGET ?= sandbox
ARGS   ?=
# Python's bytecode caches on, whatever the machine says (some images set PYTHONDONTWRITEBYTECODE):
# without them every process compiles contracttape, and pytest re-rewrites the asserts of every
# plugin module, again: about 1.5 s of CPU in each of the ~100 processes `make test` starts.
# The caches go to __pycache__ folders, which git ignores.
export PYTHONDONTWRITEBYTECODE =

.PHONY: test replay record drift contracts sandbox lint bench scan report clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("contracttape needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# -n 3 on 2 cores: many tests wait (on sockets, on the subprocess suites, on Retry-After), and a
# third worker fills that time: 86-88 s against 98 s for -n 2, before the workers were warm too.
test: $(STAMP)  ## the project's own tests (unit, plugin, integration replay; one PostgreSQL for the session), then the secrets scan
	$(PY) -m pytest tests -n 3 --dist worksteal -p tests.pg_session $(ARGS)
	$(CT) scan

replay: $(STAMP)  ## the integration suite from cassettes only, network blocked
	$(CT) replay $(if $(ARGS),-- $(ARGS))

record: $(STAMP)  ## re-record cassettes: make record [BUDGET=0.50] [TARGET=sandbox|live] [ARGS=test-id]
	$(CT) record --target $(TARGET) $(if $(BUDGET),--budget-usd $(BUDGET)) $(if $(ARGS),-- $(ARGS))

drift: $(STAMP)  ## diff new traffic against the contracts: make drift [TARGET=live BUDGET=0.25] [ARGS=--report-dir DIR]
	$(CT) drift --target $(TARGET) $(if $(BUDGET),--budget-usd $(BUDGET)) $(ARGS)

contracts: $(STAMP)  ## infer contracts from cassettes, check every response, export OpenAPI
	$(CT) contracts build
	$(CT) contracts check
	$(CT) contracts openapi

sandbox: $(STAMP)  ## run the local Supabase + OpenAI + LlamaParse sandbox until Ctrl-C: make sandbox [REVISION=2]
	$(CT) sandbox up --revision $(or $(REVISION),1)

report: $(STAMP)  ## the testing summary of the latest run: .contracttape/report/report.{md,html,json}
	$(CT) report $(ARGS)

scan: $(STAMP)
	$(CT) scan

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests tools
	$(VENV)/bin/ruff format --check src tests tools
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) tools/bench.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
