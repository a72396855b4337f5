# pairforge: `make demo` and `make test` each work as the only command on a fresh machine.
# Both install exactly the locked versions (requirements.lock / requirements-dev.lock, with hashes);
# `make lock` re-resolves them from pyproject.toml's ranges (see README, "Dependencies").
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock

# llama.cpp is compiled for a portable x86-64 baseline (AVX2/FMA/F16C), never for the build machine's
# own CPU (-march=native): a native build segfaulted on AVX-512/AMX machines (issue 11). The wheel is
# built once per (locked sdist hash, flags) into a wheelhouse of its own, not pip's cache, so a wheel
# built some other way is never picked up. Set WHEELHOUSE to an empty folder to force a fresh build.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
WHEELHOUSE ?= $(HOME)/.cache/pairforge/wheels

.PHONY: demo test doctor lint lock serve ui bench clean

# one package's entry in the lock (name==version and its hashes): $(call locked,NAME)
locked = awk '/^$(1)==/{p=1} p{print} p && !/\\$$/{p=0}' $(LOCK)

# the venv starts with the locked pip
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(call locked,pip) > $(VENV)/pip.req
	$(BIN)/pip install -q --require-hashes -r $(VENV)/pip.req

$(VENV)/llama.req: $(LOCK) | $(BIN)/python
	$(call locked,llama-cpp-python) > $@
	grep -q '^llama-cpp-python==' $@

# build (or reuse) the portable wheel, then install it without its dependencies (the lock installs those)
$(VENV)/.llama: $(VENV)/llama.req
	@key=$$( (cat $<; echo "$(LLAMA_CMAKE_ARGS)") | sha256sum | cut -c1-16); dir="$(WHEELHOUSE)/llama-$$key"; \
	if ! ls "$$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then \
	  echo "compiling llama.cpp (portable: $(LLAMA_CMAKE_ARGS)); about 4 minutes on 2 cores" >&2; \
	  mkdir -p "$$dir.tmp" && \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel -q --no-cache-dir --no-deps --require-hashes \
	    -r $< -w "$$dir.tmp" && rm -rf "$$dir" && mv "$$dir.tmp" "$$dir"; \
	fi && $(BIN)/pip install -q --no-deps --force-reinstall "$$dir"/llama_cpp_python-*.whl
	touch $@

# one stamp per dependency set; re-installed when the lock or pyproject.toml changes
$(VENV)/.installed: $(LOCK) pyproject.toml $(VENV)/.llama
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-dev
	touch $@

$(VENV)/.installed-dev: $(DEV_LOCK) pyproject.toml $(VENV)/.llama
	$(BIN)/pip install -q --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install -q --no-deps -e .
	rm -f $(VENV)/.installed
	touch $@

# Debian's Chromium for the Prefect UI test (Playwright drives it; no browser is downloaded at run time).
# Installed once, as root (as CI runs) or through sudo; a no-op when the file is there.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null
	test -x $@

# Label Studio, the annotation server (issue 16), pins its own Django stack, which conflicts with the locked set:
# it runs from a virtualenv of its own, installed from its own hash-locked file; pairforge only talks to it over
# HTTP (tasks/annotate/server.py finds $(LS_VENV)/bin/label-studio). Re-created from scratch when the lock changes.
LS_VENV ?= .venv-labelstudio
LS_LOCK := requirements-labelstudio.lock
.PHONY: labelstudio lock-labelstudio

$(LS_VENV)/.installed: $(LS_LOCK)
	$(PYTHON) -m venv --clear $(LS_VENV)
	$(LS_VENV)/bin/pip install -q --require-hashes -r $(LS_LOCK)
	touch $@

labelstudio: $(LS_VENV)/.installed  ## the Label Studio virtualenv (about 70 s with no cached wheels)

# re-resolve the Label Studio lock from requirements-labelstudio.in (label-studio==1.23.2)
lock-labelstudio: $(VENV)/.installed-dev
	$(BIN)/uv pip compile -q requirements-labelstudio.in --universal --python-version 3.11 --generate-hashes \
	  -o $(LS_LOCK)

# TRL's dataset helpers for the export tests (issue 17), in a virtualenv of their own: with transformers in the main
# one, Presidio would import it in every process. The lock leaves out trl's accelerate and torch
# (requirements-trl.overrides), hence --no-deps; tests/publish find $(TRL_VENV)/bin/python.
TRL_VENV ?= .venv-trl
TRL_LOCK := requirements-trl.lock
.PHONY: trl lock-trl

$(TRL_VENV)/.installed: $(TRL_LOCK)
	$(PYTHON) -m venv --clear $(TRL_VENV)
	$(TRL_VENV)/bin/pip install -q --no-deps --require-hashes -r $(TRL_LOCK)
	touch $@

trl: $(TRL_VENV)/.installed

lock-trl: $(VENV)/.installed-dev
	$(BIN)/uv pip compile -q requirements-trl.in --universal --python-version 3.11 --generate-hashes \
	  --override requirements-trl.overrides -c $(DEV_LOCK) -o $(TRL_LOCK)

# the runtime set is a subset of the dev set, so a dev venv runs the demo too
INSTALLED = $(if $(wildcard $(VENV)/.installed-dev),$(VENV)/.installed-dev,$(VENV)/.installed)

demo: $(INSTALLED)  ## set up, check the set-up, build the demo dataset on local files, print where it went
	$(BIN)/pairforge doctor examples/demo/recipe.yaml
	$(BIN)/pairforge run examples/demo/recipe.yaml

test: $(VENV)/.installed-dev $(CHROMIUM) $(LS_VENV)/.installed $(TRL_VENV)/.installed  ## set up with dev extras and run the whole suite (tests start their own servers)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

doctor: $(INSTALLED)  ## check what a run needs, one line per check
	$(BIN)/pairforge doctor examples/demo/recipe.yaml

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# re-resolve both locks to the newest versions pyproject.toml allows; the runtime lock is constrained
# to the dev lock, so the two agree on every shared package
lock: $(VENV)/.installed-dev
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes \
	  --upgrade -o $(DEV_LOCK)
	$(BIN)/uv pip compile -q pyproject.toml --universal --python-version 3.11 --generate-hashes \
	  -c $(DEV_LOCK) -o $(LOCK)

bench: $(INSTALLED)
	$(BIN)/pairforge bench pii

# SQLite waits up to 60 s for a lock (Prefect's default 10 s answers 503 to the UI's Run button while a run writes)
ui: $(INSTALLED)  ## Prefect UI with the history of local runs, on http://127.0.0.1:4200
	PREFECT_SERVER_DATABASE_TIMEOUT=$${PREFECT_SERVER_DATABASE_TIMEOUT:-60} \
	  $(BIN)/prefect server start --host 127.0.0.1 --port 4200

clean:
	rm -rf $(VENV) $(LS_VENV) examples/demo/out .pytest_cache .ruff_cache
