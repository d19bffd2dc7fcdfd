#!/usr/bin/env bash
# The fast first step of make test: architecture contracts, lint and format, types (about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "--- import contracts (.importlinter)"
$BIN/lint-imports --no-cache
echo "--- no import cycles, no unexplained in-function imports"
$BIN/python scripts/check_architecture.py
echo "--- ruff (ruff.toml)"
$BIN/ruff check --no-cache .
$BIN/ruff format --check --no-cache .
echo "--- mypy (mypy.ini: billing_core strict, the rest --check-untyped-defs)"
$BIN/mypy
