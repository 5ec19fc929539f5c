# newswarc: `make demo` archives the bundled demo site; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# pywb (replay) and wacz (validation) want other versions of shared packages than Scrapy:
# they live in a virtual environment of their own, used by the tests as outside tools.
TOOLS ?= .venv-pywb
TOOLS_STAMP := $(TOOLS)/.installed-pywb-2.10-wacz-0.6

.PHONY: install tools redis demo test lint typecheck pytest bench bench-extraction clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# Python 3.11's bundled pip skips lxml_html_clean when resolving trafilatura: upgrade first.
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

$(TOOLS_STAMP):
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet 'pywb>=2.10,<3' 'wacz>=0.6,<1'
	touch $(TOOLS_STAMP)

install: $(STAMP)

# The distributed tests start a real Redis server (Debian's package) on loopback themselves.
redis:
	command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

tools: $(TOOLS_STAMP)

demo: install
	$(PY) -m tests.site.demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install tools redis
	NEWSWARC_TOOLS=$(abspath $(TOOLS))/bin $(PY) -m pytest -q

test: lint typecheck pytest

bench: install
	$(PY) bench/pipeline.py

REAL_CORPUS ?= ../shared/corpora/wcxb-dev-articles
REAL_CSV ?= /tmp/newswarc-wcxb.csv

bench-extraction: install
	$(PY) bench/extraction.py --sweep
	# Real pages (WCXB format) when the folder is there; a fresh clone has only the fixtures.
	if [ -d $(REAL_CORPUS)/ground-truth ]; then \
	  $(PY) bench/extraction.py --corpus $(REAL_CORPUS) --csv $(REAL_CSV); fi

clean:
	rm -rf $(VENV) $(TOOLS) archive .newswarc .pytest_cache .mypy_cache .ruff_cache
