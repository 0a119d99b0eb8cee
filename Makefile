# The two commands of the README: `make run` (the app) and `make test` (the tests). Both set up
# everything on a fresh machine: a .venv with the project and its pinned dependencies.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test index bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)
	$(PY) app.py

# The browser tests drive Debian's Chromium (no browser download): installed here when missing.
test: $(STAMP)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(PY) -m pytest -q

index: $(STAMP)
	$(PY) -m assistant index

bench: $(STAMP)
	$(PY) benchmarks/bench_retrieval.py

clean:
	rm -rf $(VENV) index/chroma index/records index/manifest.json
