#!/usr/bin/env bash
# The production profile on one machine: scripts/run_prod.sh run|start|stop|status [--trial] [--env-file F]
#   run     start everything, print the URLs, Ctrl-C stops everything   (make run-prod)
#   start   start everything in the background (pid files under $HELPDESK_PROD_DIR, default var/prod)
#   stop    stop what start left running;  status: one line per process
# Installs Debian's postgresql, redis-server and nginx when missing (needs root).
# Secrets come from the environment (deploy/prod.env.example); --trial generates throwaway ones.
set -euo pipefail
cd "$(dirname "$0")/.."

install_missing() { scripts/install_system.sh postgresql redis-server nginx >&2; }

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
