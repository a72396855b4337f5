# pairforge: `make demo` and `make test` each work as the only command on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: demo test lint serve ui bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# one stamp per dependency set; re-install when pyproject.toml changes
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed

# Debian's Chromium for the Prefect UI test (Playwright drives it; no browser is downloaded at run time).
# Installed once, as root (as CI runs) or through sudo; a no-op when the file is there.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null
	test -x $@

demo: $(VENV)/.installed  ## set up, build the demo dataset on local files, print where it went
	$(BIN)/pairforge run examples/demo/recipe.yaml

test: $(VENV)/.installed-dev $(CHROMIUM)  ## set up with dev extras and run the whole suite (tests start their own servers)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/pairforge bench pii

ui: $(VENV)/.installed  ## Prefect UI with the history of local runs, on http://127.0.0.1:4200
	$(BIN)/prefect server start --host 127.0.0.1 --port 4200

clean:
	rm -rf $(VENV) examples/demo/out .pytest_cache .ruff_cache
