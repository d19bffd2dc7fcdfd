#!/usr/bin/env bash
# `make mutate`: mutation testing of billing_core's domain, service layer and payments (the VNPAY
# adapter included) against tests/billing_core and tests/vnpay. Not part of `make test` (it takes
# long). Works on a copy under var/mutate, so the source tree is never touched; prints the score and
# every surviving mutant (`cd var/mutate && ../../.venv-core/bin/mutmut show NAME` shows one).
#   MUTATE_JOBS=2 (parallel children)   MUTATE_ONLY="billing_core/service_layer/*" (a subset)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MUTMUT=${MUTMUT:-$ROOT/.venv-core/bin/mutmut}
WORK=${MUTATE_DIR:-$ROOT/var/mutate}
ONLY=${MUTATE_ONLY:-billing_core/domain/*.py billing_core/service_layer/*.py billing_core/adapters/vnpay.py}

rm -rf "$WORK"
mkdir -p "$WORK/tests"
cp -r billing_core pytest.ini "$WORK/"
cp tests/__init__.py tests/conftest.py tests/dbs.py "$WORK/tests/"
cp -r tests/billing_core tests/vnpay "$WORK/tests/"
find "$WORK" -name __pycache__ -prune -exec rm -rf {} +
{
  echo "[mutmut]"
  echo "source_paths = billing_core"
  echo "only_mutate ="
  for pattern in $ONLY; do echo "    $pattern"; done
  echo "also_copy ="
  echo "    tests"
  echo "    pytest.ini"
  echo "pytest_add_cli_args_test_selection ="
  echo "    tests/billing_core"
  echo "    tests/vnpay"
  echo "    --ignore=tests/vnpay/test_web.py"
  echo "pytest_add_cli_args ="
  echo "    -p"
  echo "    no:cacheprovider"
  echo "    -q"
  # tests that start a Python subprocess: mutmut's switch does not reach into it
  echo "    -k"
  echo "    not as_a_program and not one_command_line and not pure_modules_import and not whatever_the_server_time_zone"
} > "$WORK/setup.cfg"

cd "$WORK"
# the PostgreSQL cases skip (no BILLING_TEST_POSTGRES_URL): one engine is enough to kill mutants
env -u BILLING_TEST_POSTGRES_URL nice -n 5 "$MUTMUT" run --max-children "${MUTATE_JOBS:-2}" || true
"$MUTMUT" export-cicd-stats >/dev/null
echo
echo "=== surviving mutants (mutmut show NAME, in $WORK)"
"$MUTMUT" results | grep -v ": killed" || true
"$ROOT/.venv-core/bin/python" - <<'PY'
import json
stats = json.load(open("mutants/mutmut-cicd-stats.json"))
tested = stats["total"] - stats.get("skipped", 0)
killed = stats["killed"] + stats.get("timeout", 0)
print(f"\n=== mutation score: {killed}/{tested} killed = {100 * killed / max(tested, 1):.1f} %  "
      + ", ".join(f"{k} {v}" for k, v in sorted(stats.items())))
PY
