#!/usr/bin/env bash
# The whole test suite, in the order that fails fastest. Called by `make test` (after installs).
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
mkdir -p test-output

SUITE_START=$(date +%s)
step() { printf '\n=== [%4ss] %s\n' "$(( $(date +%s) - SUITE_START ))" "$*"; }

step "architecture contracts, lint and format, types (scripts/lint.sh)"
scripts/lint.sh

# PostgreSQL: the billing suites also run against it (a throwaway cluster on loopback).
if [[ -z "${BILLING_TEST_POSTGRES_URL:-}" ]]; then
  step "starting PostgreSQL for the tests"
  BILLING_TEST_POSTGRES_URL=$(scripts/postgres.sh start)
  export BILLING_TEST_POSTGRES_URL
  trap 'scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
fi
echo "PostgreSQL: $BILLING_TEST_POSTGRES_URL"

step "billing_core alone (Python 3.11, SQLAlchemy 2, no Rasa)"
.venv-core/bin/python -m pytest -q -p no:cacheprovider tests/billing_core tests/vnpay --ignore=tests/vnpay/test_web.py

step "rasa data validate"
.venv/bin/rasa data validate --fail-on-warnings --quiet

step "train the assistant if its data changed"
scripts/train_if_changed.sh

step "test stories"
.venv/bin/rasa test core --model models/helpdesk.tar.gz --stories tests/stories \
  --fail-on-prediction-errors --out test-output/rasa-core --quiet

step "main suite (Python 3.10, Rasa, actions, web, live servers, browser)"
.venv/bin/python -m pytest -q -p no:cacheprovider -m "not prod" tests

step "assistant suites on PostgreSQL"
BILLING_TEST_DB=postgres .venv/bin/python -m pytest -q -p no:cacheprovider tests/actions tests/web tests/rest \
  tests/security/test_private_stack.py tests/test_tracker_store.py

step "production profile faults and its hostile-client checks (PostgreSQL, Redis lock store, nginx, Rasa servers)"
.venv/bin/python -m pytest -q -p no:cacheprovider -m prod tests/prod tests/security

step "done in $(( $(date +%s) - SUITE_START )) s"
