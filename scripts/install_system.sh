#!/usr/bin/env bash
# Installs every Debian package that a test or a profile starts, when it is missing:
#   postgresql     the billing suites on PostgreSQL and the production profile's tracker store
#   redis-server   the production profile's lock store
#   nginx          the production profile's front (sticky routing, try-again answer)
#   chromium       the browser tests (headless; browser downloads do not work here)
# Called by `make test` and `make run-prod` (scripts/run_prod.sh). Idempotent: a machine that has
# them all does nothing, not even `apt-get update`. Needs root (or sudo) when something is missing.
set -euo pipefail

have_postgres() { compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

want=("$@")
[ "${#want[@]}" -gt 0 ] || want=(postgresql redis-server nginx chromium)

missing=()
for package in "${want[@]}"; do
  case "$package" in
    postgresql) have_postgres || missing+=(postgresql) ;;
    chromium) have chromium || missing+=(chromium fonts-dejavu-core) ;;
    *) have "$package" || missing+=("$package") ;;
  esac
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages present: ${want[*]}"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_system.sh: missing ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d may refuse to start the packaged services; the tests and profiles run their own instances.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
for package in "${want[@]}"; do
  case "$package" in
    postgresql) have_postgres || { echo "install_system.sh: postgresql still missing" >&2; exit 1; } ;;
    *) have "$package" || { echo "install_system.sh: $package still missing" >&2; exit 1; } ;;
  esac
done
echo "installed: ${missing[*]}"
