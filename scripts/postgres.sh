#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite: scripts/postgres.sh start|stop|url|status
# Lives under /tmp (PGDATA_DIR), listens on 127.0.0.1:$PGPORT with trust auth on loopback only,
# and holds one database, billing_test. Root cannot run postgres, so the server runs as the
# `postgres` OS user. Installs Debian's postgresql package when no server binaries are found.
set -euo pipefail

PGPORT="${PGPORT:-54329}"
PGDATA_DIR="${PGDATA_DIR:-/tmp/billing-pg-$PGPORT}"
PGDATABASE_NAME="${PGDATABASE_NAME:-billing_test}"
PGOS_USER="${PGOS_USER:-postgres}"
URL="postgresql+psycopg2://postgres@127.0.0.1:${PGPORT}/${PGDATABASE_NAME}"

find_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
    fi
  done | sort -V | tail -n 1
}

ensure_binaries() {
  BINDIR="$(find_bindir)"
  if [ -z "$BINDIR" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "postgres.sh: PostgreSQL server binaries not found and not root: install postgresql" >&2
      exit 1
    fi
    echo "postgres.sh: installing Debian's postgresql package" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    BINDIR="$(find_bindir)"
  fi
  if [ -z "$BINDIR" ]; then
    echo "postgres.sh: PostgreSQL server binaries still not found" >&2
    exit 1
  fi
}

# Run a server binary as the cluster's OS user (root may not run postgres itself).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PGOS_USER" -- "$@"
  else
    "$@"
  fi
}

is_running() {
  [ -f "$PGDATA_DIR/postmaster.pid" ] && as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1
}

start() {
  ensure_binaries
  if [ "$(id -u)" -eq 0 ] && ! id "$PGOS_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home "$PGOS_USER"
  fi
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    mkdir -p "$PGDATA_DIR"
    [ "$(id -u)" -eq 0 ] && chown "$PGOS_USER" "$PGDATA_DIR"
    chmod 700 "$PGDATA_DIR"
    as_owner "$BINDIR/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  fi
  if ! is_running; then
    # Unix socket in the data dir: no need for /var/run/postgresql to exist or be writable.
    as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 30 \
      -o "-p $PGPORT -k $PGDATA_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
      start >/dev/null
  fi
  if ! as_owner "$BINDIR/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE_NAME'" | grep -q 1; then
    as_owner "$BINDIR/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres "$PGDATABASE_NAME"
  fi
  echo "$URL"
}

stop() {
  ensure_binaries
  if is_running; then
    as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
  fi
  rm -rf "$PGDATA_DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  status) ensure_binaries; if is_running; then echo "running: $URL"; else echo "stopped"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|url|status" >&2; exit 2 ;;
esac
