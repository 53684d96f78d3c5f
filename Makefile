# talkcast: `make demo` installs everything and runs the demo; `make test` runs the tests.
# Re-running is fast: each install step is skipped while its inputs are unchanged.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMPS := $(VENV)/.stamps

# Debian packages the runtime needs, and the extra ones the integration tests start.
APT_RUNTIME := ffmpeg espeak-ng sox fonts-dejavu-core fonts-noto-cjk fonts-symbola
APT_LIVE    := obs-studio xvfb nginx-light libnginx-mod-rtmp
APT_TEST    := $(APT_RUNTIME) $(APT_LIVE) chromium prometheus

.PHONY: demo test lint bench format clean

demo: $(STAMPS)/venv
	@scripts/apt-ensure $(APT_RUNTIME) $(APT_LIVE)
	$(BIN)/talkcast demo demo-event

test: $(STAMPS)/venv-test
	@scripts/apt-ensure $(APT_TEST)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMPS)/venv-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy talkcast
	$(BIN)/lint-imports --no-cache

format: $(STAMPS)/venv-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMPS)/venv-test
	@scripts/apt-ensure $(APT_TEST)
	$(BIN)/python benchmarks/run_all.py

$(STAMPS)/venv: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e .
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/venv-test: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	@mkdir -p $(STAMPS) && touch $@ $(STAMPS)/venv

clean:
	rm -rf $(VENV) demo-event .pytest_cache .mypy_cache .ruff_cache
