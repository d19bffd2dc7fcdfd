#!/usr/bin/env bash
# The production profile on one machine: scripts/run_prod.sh run|start|stop|status [--trial] [--env-file F]
#   run     start everything, print the URLs, Ctrl-C stops everything   (make run-prod)
#   start   start everything in the background (pid files under $HELPDESK_PROD_DIR, default var/prod)
#   stop    stop what start left running;  status: one line per process
# Installs Debian's postgresql, redis-server and nginx when missing (needs root).
# Secrets come from the environment (deploy/prod.env.example); --trial generates throwaway ones.
set -euo pipefail
cd "$(dirname "$0")/.."

have_postgres() { compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; }

install_missing() {
  local packages=()
  have_postgres || packages+=(postgresql)
  command -v redis-server >/dev/null || packages+=(redis-server)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || packages+=(nginx)
  if [ "${#packages[@]}" -eq 0 ]; then return; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "run_prod.sh: missing ${packages[*]}; run as root or: apt-get install ${packages[*]}" >&2
    exit 1
  fi
  echo "run_prod.sh: installing Debian packages: ${packages[*]}" >&2
  apt-get update -qq >&2
  # policy-rc.d may refuse to start the packaged services; the profile runs its own instances.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >&2
}

case "${1:-}" in
  run|start) install_missing ;;
  stop|status) ;;
  *) sed -n '2,7p' "$0" >&2; exit 2 ;;
esac

if [ ! -x .venv/bin/python ]; then
  echo "run_prod.sh: .venv missing: run make install first" >&2
  exit 1
fi
exec .venv/bin/python scripts/prod/prodstack.py "$@"
