# Common tasks. Every target creates the virtualenv in .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: install demo test test-sqlite test-postgres bench clean

$(BIN)/python: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/python

install: $(BIN)/python

## Process pages 1-3 with 2 workers against the built-in sandbox. The sandbox
## seeds failures on purpose, so exit status 3 (some services failed) counts
## as success here; any other non-zero status still fails the target.
DEMO_COMMAND := $(BIN)/python manage.py process_pedimentos 1 3 --workers 2 --sandbox
demo: install
	$(BIN)/python manage.py migrate --verbosity 0
	@echo "$(DEMO_COMMAND)"
	@$(DEMO_COMMAND); status=$$?; \
	if [ $$status -eq 3 ]; then \
		echo "(The failures above are seeded on purpose by the sandbox.)"; \
	elif [ $$status -ne 0 ]; then \
		exit $$status; \
	fi

## Run the test suite on SQLite, then on PostgreSQL when one answers on 127.0.0.1:5432.
test: test-sqlite
	@if $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL does not answer on 127.0.0.1:5432: skipping the PostgreSQL run."; \
	fi

test-sqlite: install
	DATABASE_URL= $(BIN)/pytest

test-postgres: install
	DATABASE_URL=$(POSTGRES_URL) $(BIN)/pytest

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache db.sqlite3 .test-db.sqlite3*
