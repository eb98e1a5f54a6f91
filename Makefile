# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv and install what they need (Debian's Chromium for the browser tests).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all demo test lint typecheck unit bench chromium screenshot dist wheel-test clean

all: test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is needed"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; \
	else \
	  echo "Installing Debian's chromium (sudo)"; \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: $(STAMP) chromium lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(PY) -m pytest -m "not browser and not notebook" $(PYTEST_ARGS)

demo: $(STAMP)  ## REPLAY=talk.wiropack: a replay sandbox of a pack (wiro-widgets pack)
	$(PY) -m wiro_widgets.demo $(if $(HEADLESS),--headless,) $(if $(REPLAY),--replay "$(REPLAY)",)

screenshot: $(STAMP) chromium  ## refresh docs/panel.png from the JupyterLab browser test
	WIRO_UPDATE_SCREENSHOT=1 $(PY) -m pytest tests/browser -k lab -q

bench: $(STAMP)
	$(PY) benchmarks/run.py

dist: $(STAMP)  ## the wheel and the sdist in dist/, checked by twine
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*

wheel-test: $(STAMP)  ## build the wheel, install it in a fresh venv in a temp dir, run the demo there
	WIRO_FRESH_VENV=1 $(PY) -m pytest tests/packaging/test_packaging_fresh_venv.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache demo-output dist
