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
# mutmut runs, for each mutant, only the tests it saw reach the mutated function; a few paths (a
# call through a thread, a subprocess) escape it. Each survivor is tried once more against the whole
# selection, stopping at the first failure, before it counts as a survivor.
"$MUTMUT" results > results.txt || true
env -u BILLING_TEST_POSTGRES_URL MUTMUT_PYTHON="$(dirname "$MUTMUT")/python" nice -n 5 \
  "$ROOT/.venv-core/bin/python" - <<'PY'
import os, re, subprocess, sys
python = os.environ["MUTMUT_PYTHON"]
lines = open("results.txt", encoding="utf-8").read().splitlines()
status = dict(re.match(r"\s*(\S+): (.+)$", line).groups() for line in lines if ": " in line)
survivors = [name for name, state in status.items() if state == "survived"]
really = []
for name in survivors:
    done = subprocess.run([python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests/vnpay",
                           "tests/billing_core", "--ignore=tests/vnpay/test_web.py", "-k",
                           "not as_a_program and not one_command_line and not pure_modules_import"
                           " and not whatever_the_server_time_zone"],
                          cwd="mutants", env={**os.environ, "MUTANT_UNDER_TEST": name},
                          capture_output=True, text=True, timeout=900)
    if done.returncode == 0:
        really.append(name)
counts = {state: sum(1 for s in status.values() if s == state) for state in set(status.values())}
tested = sum(n for state, n in counts.items() if state not in ("not checked", "skipped"))
killed = counts.get("killed", 0) + counts.get("timeout", 0) + len(survivors) - len(really)
print("\n=== surviving mutants (mutmut show NAME, in %s)" % os.getcwd())
for name in really:
    print("   ", name)
not_checked = counts.get("not checked", 0)
print(f"\n=== mutation score: {killed}/{tested} killed = {100 * killed / max(tested, 1):.1f} %"
      f" ({len(survivors) - len(really)} of mutmut's {len(survivors)} survivors killed by the whole selection;"
      f" {not_checked} not checked); " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
PY
