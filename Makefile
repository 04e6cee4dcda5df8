# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch is pinned here and in pyproject: 2.13.0 is the CPU build cached on these machines.
CONSTRAINTS := constraints.txt
# Real data lives beside the checkout (../shared/data) unless RLTE_DATA says otherwise.
export RLTE_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)

.PHONY: demo test install install-dev lint bench clean

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c $(CONSTRAINTS) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[dev,rl,ray]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(VENV)/bin/rlte demo

test: install-dev
	$(PY) -m pytest -n 2 -q

lint: install-dev
	$(PY) -m ruff check rlte tests benchmarks
	$(PY) -m ruff format --check rlte tests benchmarks

bench: install
	$(VENV)/bin/rlte bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
