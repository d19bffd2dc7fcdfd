# Cleeksy billing help assistant. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
PY310 ?= $(shell command -v python3.10 || echo /root/.pyenv/versions/3.10.13/bin/python3.10)
PY311 ?= $(shell command -v python3.11 || echo /root/.pyenv/versions/3.11.7/bin/python3.11)
VENV := .venv
CORE_VENV := .venv-core
PY := $(VENV)/bin/python
STAMPS := .stamps

.PHONY: help install install-system install-core lint test run eval train validate bench mutate clean

help:
	@echo "make run    - install, train if data changed, seed demo data, start the assistant + web app"
	@echo "make test   - install and run the whole test suite"
	@echo "make eval   - evaluate the NLU (held-out set) and the blind conversation set (results/)"
	@echo "make bench  - run every benchmark in bench/ (bench/run_all.py; QUICK=1 for a smoke run)"
	@echo "make mutate - mutation testing of billing_core (score and survivors; slow, not part of make test)"

$(STAMPS):
	mkdir -p $(STAMPS)

# The main environment: reinstalled only when the pins change.
$(STAMPS)/main-venv: requirements/main.in requirements/constraints.txt | $(STAMPS)
	test -x $(PY) || $(PY310) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip==24.0"
	$(PY) -m pip install -q -r requirements/main.in -c requirements/constraints.txt
	touch $@

# The lean billing_core environment: Python 3.11, SQLAlchemy 2, no Rasa.
$(STAMPS)/core-venv: requirements/core.in requirements/core-constraints.txt | $(STAMPS)
	test -x $(CORE_VENV)/bin/python || $(PY311) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install -q -r requirements/core.in -c requirements/core-constraints.txt
	touch $@

# The chat widget and agent console scripts: npm packages from the registry at build time,
# served from webapp/static/dist (no CDN at run time). Rebuilt when the sources or the lock change.
WIDGET_SOURCES := $(wildcard frontend/src/*) frontend/build.mjs frontend/package.json frontend/package-lock.json
webapp/static/dist/.built: $(WIDGET_SOURCES)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent
	touch $@

install: $(STAMPS)/main-venv webapp/static/dist/.built
install-core: $(STAMPS)/core-venv

# Every Debian package a test starts: PostgreSQL, redis-server, nginx, headless Chromium
# (apt-get update first, only when one is missing; browser downloads do not work here).
install-system:
	scripts/install_system.sh

test: install install-core install-system
	scripts/test.sh

# The fast first step of make test: import contracts, lint and format, types.
lint: install
	scripts/lint.sh

# Train the model only when data/, domain.yml, config.yml or the NLU components changed.
train: install
	scripts/train_if_changed.sh

validate: install
	$(VENV)/bin/rasa data validate --fail-on-warnings

# Demo database (SQLite under var/ unless BILLING_DATABASE_URL says otherwise), then everything on
# loopback (HELPDESK_BIND_HOST). Without a secret this chooses the demo mode explicitly (demo login,
# local VNPAY stand-in, the documented demo secret); with a private HELPDESK_JWT_SECRET it is
# production mode: neither exists (docs/security.md). Every start prints its mode.
RUN_MODE := $(if $(HELPDESK_JWT_SECRET)$(HELPDESK_MODE),,HELPDESK_MODE=demo)
run: install train
	$(PY) -m billing_core init-db
	$(PY) -m helpdesk.migrations
	$(PY) -m billing_core seed-demo
	@echo "Demo tokens: make token WS=demo-monthly  (ROLE=agent for the agent console; demo mode only)"
	$(RUN_MODE) $(PY) -m helpdesk.stack run

WS ?= demo-monthly
ROLE ?= customer
token: install
	@$(PY) scripts/demo_token.py $(WS) --role $(ROLE)

# The NLU on its held-out set, then the blind conversation set (tests/conversations) on the model.
eval: install train
	$(PY) scripts/eval_nlu.py
	$(PY) scripts/eval_conversations.py

bench: install train
	$(PY) bench/run_all.py $(if $(QUICK),--quick,)

# Mutation testing (mutmut) of billing_core's domain, service layer and payments; see scripts/mutate.sh.
mutate: install-core
	scripts/mutate.sh

clean:
	rm -rf $(STAMPS) models results test-output

# Production profile on loopback (scripts/run_prod.sh): PostgreSQL, Redis lock store, two Rasa
# servers and the action server behind nginx, the web app; Ctrl-C stops all. Secrets come from
# the environment (deploy/prod.env.example); when HELPDESK_JWT_SECRET is unset this is a trial
# run with loudly announced throwaway secrets and the demo workspaces.
.PHONY: run-prod stop-prod test-prod bench-load
run-prod: install install-system train
	scripts/run_prod.sh run $(if $(HELPDESK_JWT_SECRET),,--trial)

stop-prod:
	scripts/run_prod.sh stop

# The production profile's fault tests (PostgreSQL, Redis, nginx, two Rasa servers; root for apt-get).
test-prod: install install-system train
	$(PY) -m pytest -q -m prod tests/prod tests/security

# 50 concurrent conversations for 60 s, one server versus two (bounded, loopback only).
bench-load: install train
	$(PY) bench/bench_load.py --rounds 3
