# newswarc: `make demo` archives the bundled demo site; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo test lint typecheck pytest bench bench-extraction clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# Python 3.11's bundled pip skips lxml_html_clean when resolving trafilatura: upgrade first.
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m tests.site.demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest -q

test: lint typecheck pytest

bench: install
	$(PY) bench/pipeline.py

bench-extraction: install
	$(PY) bench/extraction.py --sweep

clean:
	rm -rf $(VENV) archive .newswarc .pytest_cache .mypy_cache .ruff_cache
