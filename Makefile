# Two commands: `make run` (demo gateway with GraphiQL) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
JWT_SECRET_FILE := var/jwt-secret
# Origins a locally served single-page app may call the API from (a Vite dev server, the gateway).
DEV_CORS_ORIGINS := http://localhost:5173,http://127.0.0.1:5173,http://localhost:8000,http://127.0.0.1:8000
# Webhook receivers on this machine that a locally served gateway may deliver to (and over http).
DEV_WEBHOOK_HOSTS := localhost,127.0.0.1,::1
# An exported TSP_JWT_SECRET wins; otherwise the local development secret is used.
WITH_SECRET = TSP_JWT_SECRET="$${TSP_JWT_SECRET:-$$(cat $(JWT_SECRET_FILE))}"

.DEFAULT_GOAL := help
.PHONY: help run test lint schema clean

help:
	@echo "make run   set up, seed demo data if the store is empty, serve http://127.0.0.1:8000/graphql"
	@echo "          (and the authorization and partner pages: /authorize/<link token>, /partner)"
	@echo "make test  set up, then ruff, mypy, the layers contract (lint-imports) and pytest"
	@echo "          (on every core; TEST_WORKERS=0: in one process)"
	@echo "make schema  rewrite schema.graphql, the committed API contract, from the code"

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

include web/Makefile.fragment

# The GraphQL clients tests/test_clients.py drives against a served gateway (urql, Apollo Client,
# graphql-ws, graphql-sse, the graphql-http audit): from the npm registry, pinned by the lock file.
CLIENT_PACKAGES := tests/clients/node_modules/.installed
$(CLIENT_PACKAGES): tests/clients/package.json tests/clients/package-lock.json
	@command -v node >/dev/null 2>&1 || { echo "Node.js and npm are needed for the client" \
		"tests: install them from your system's packages or https://nodejs.org/" >&2; exit 1; }
	npm ci --prefix tests/clients --no-audit --no-fund
	touch $@

$(JWT_SECRET_FILE):
	@mkdir -p var
	@$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))' > $@
	@chmod 600 $@
	@echo "Generated a local development JWT secret in $@ (set TSP_JWT_SECRET to use your own)."

run: $(INSTALLED) web-assets $(JWT_SECRET_FILE) app-documents
	$(WITH_SECRET) $(BIN)/tsp-gateway seed --demo --if-empty
	$(WITH_SECRET) TSP_DEMO=1 TSP_CORS_ORIGINS="$${TSP_CORS_ORIGINS:-$(DEV_CORS_ORIGINS)}" \
		TSP_WEBHOOK_ALLOWED_HOSTS="$${TSP_WEBHOOK_ALLOWED_HOSTS-$(DEV_WEBHOOK_HOSTS)}" \
		$(BIN)/tsp-gateway serve

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

# The suite runs in parallel (pytest-xdist), a test file to a worker, so a module's servers
# start once; TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= auto
test: $(INSTALLED) web-assets $(CLIENT_PACKAGES) lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# The one command that regenerates the contract after a schema change (review the diff, and
# `tsp-gateway export-schema --check` first to see whether the change breaks clients).
schema: $(INSTALLED)
	$(BIN)/tsp-gateway export-schema --output schema.graphql

clean:
	rm -rf $(VENV) web/node_modules tests/clients/node_modules web/static web/app/dist web/app/src/generated .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
