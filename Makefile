# Every target bootstraps .venv idempotently: a fresh machine needs only Python 3.11, git and make.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(VENV)/bin

.PHONY: install demo test lint bench selftest clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# qsim exits 1 when it finds regressions, which is what the demo is for: only 2 and
# above (input or setup errors, interrupts) fail the target.
demo: $(STAMP)
	@$(BIN)/qsim run configs/demo.toml; code=$$?; \
	if [ $$code -eq 1 ]; then echo "(qsim exited 1: the demo found regressions, see the report above)"; \
	elif [ $$code -ne 0 ]; then exit $$code; fi

# Performance-verdict tests need an otherwise idle machine (the perf phase's premise), so
# they run alone after the parallel suite.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not perf_isolated"
	$(BIN)/python -m pytest -m perf_isolated

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

selftest: $(STAMP)
	$(BIN)/qsim selftest

clean:
	rm -rf $(VENV) datasets/store runtimes results/*/
