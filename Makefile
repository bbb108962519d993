# The two commands: `make run` starts the studio, `make test` runs the whole suite.
VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run lint test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --requirement requirements.txt
	touch $@

run: install
	DEBUG=$${DEBUG:-true} $(PY) manage.py run_studio

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest

bench: install
	$(PY) -m bench.all

clean:
	rm -rf $(VENV) var/test
