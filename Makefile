# One command runs every check: `make check` (the same steps as .ci/run, without reinstalling).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install check fmt lint types test demo bench

install:
	python3 -m venv $(VENV)
	$(BIN)/pip install -e '.[test]'

check: lint types test

fmt:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint:
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo

types:
	$(BIN)/mypy monitor
	$(BIN)/mypy bench

test:
	$(BIN)/pytest

demo:
	$(BIN)/monitor demo

bench:
	$(BIN)/python bench/poll.py
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/delivery.py
