# Two commands for a newcomer: `make run` and `make test`.
# Both create the virtual environment in .venv and install the project into it first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run simulate quote test lint bench clean help schema

help:  ## List the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Towline needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,postgres,dev]'
	touch $(STAMP)

# The server runs in the background while the simulated day (docs/demo-day.md) talks to
# it, then in the foreground; its log goes to var/server.log and is followed once the day
# is done. The traps stop it on Ctrl-C, on an error and on exit: no orphan server.
run: $(STAMP)  ## Start the office server (SQLite, demo tenant) with a simulated day of three tablets (Ctrl-C to stop)
	@if $(BIN)/python -c 'import socket, sys; sys.exit(socket.socket().connect_ex(("127.0.0.1", 5000)) != 0)'; then \
		echo "Le port 5000 est déjà pris (un serveur déjà lancé ?) / Port 5000 is already in use (a server already running?)" >&2; \
		exit 1; \
	fi
	$(BIN)/towline-server init-db
	$(BIN)/towline-server demo
	@mkdir -p var; \
	$(BIN)/towline-server run --port 5000 >var/server.log 2>&1 & server=$$!; tailer=; \
	trap 'kill $$server $$tailer 2>/dev/null; wait $$server 2>/dev/null' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM HUP; \
	if ! $(BIN)/towline-simulate --url http://127.0.0.1:5000 --wait 30; then \
		echo "--- var/server.log (fin / end) ---" >&2; tail -n 20 var/server.log >&2; exit 1; \
	fi; \
	echo; \
	echo "Bureau / Office desk:  http://127.0.0.1:5000/desk/   (admin, gerant, bureau — demo-towline)"; \
	echo "API:                   http://127.0.0.1:5000/api/v1/docs"; \
	echo "Ctrl-C pour arrêter le serveur / to stop the server. Journal / log: var/server.log"; \
	echo; \
	tail -n 0 -f var/server.log & tailer=$$!; \
	wait $$server

simulate: $(STAMP)  ## Another simulated day, new tablets, against the server `make run` started
	$(BIN)/towline-simulate --url http://127.0.0.1:5000 --again

quote: $(STAMP)  ## Value an example mission and show who pays what
	$(BIN)/towline-field quote examples/contracts/assist-a.json examples/missions/a-saturday-accident-winching.json

lint: $(STAMP)  ## Ruff, mypy (strict on the core) and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint  ## Every check and every test
	$(BIN)/pytest

bench: $(STAMP)  ## Print the speed figures
	$(BIN)/python bench/valuation.py
	$(BIN)/python bench/journal.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/field.py
	$(BIN)/python bench/reconcile.py
	$(BIN)/python bench/pages.py

clean:  ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

schema: $(STAMP)  ## Regenerate the initial migration from server/platform/tables.py (before the first release only)
	rm -f server/platform/migrations/versions/0001_initial_schema.py var/schema.db
	$(BIN)/python -c 'from alembic import command; from server.platform.db import make_engine, alembic_config; \
e = make_engine("sqlite:///var/schema.db"); c = alembic_config(e); \
command.revision(c, message="initial schema", autogenerate=True, rev_id="0001")'
	sed -i 's/server\.platform\.tables\.UTCDateTime(timezone=True)/sa.DateTime(timezone=True)/g; /# ### /d' server/platform/migrations/versions/0001_initial_schema.py
	$(BIN)/ruff format -q server/platform/migrations && $(BIN)/ruff check -q --fix server/platform/migrations
	rm -f var/schema.db
