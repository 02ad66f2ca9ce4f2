#!/usr/bin/env bash
# Run a command against a throw-away Debian PostgreSQL 15 (apt package postgresql-15) instead of
# the embedded server: initdb in a temporary directory, start it on a private Unix socket, export
# the libpq variables, run the command, stop and remove the server.
#   scripts/with-debian-postgres.sh make pytest
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PG_BIN/initdb" ]; then
  echo "error: $PG_BIN/initdb not found; install Debian's postgresql-15 or set PG_BIN" >&2
  exit 2
fi

work=$(mktemp -d /tmp/warehouse-pg15.XXXXXX)
chmod 755 "$work"
run_as=()
if [ "$(id -u)" = 0 ]; then  # PostgreSQL refuses to run as root
  chown postgres "$work"
  run_as=(runuser -u postgres --)
fi

stop() {
  "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap stop EXIT

"${run_as[@]}" "$PG_BIN/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${run_as[@]}" "$PG_BIN/pg_ctl" -D "$work/data" -l "$work/log" -w \
  -o "-c listen_addresses='' -k $work -c timezone=UTC -p 5433" start >/dev/null

export PGHOST=$work PGPORT=5433 PGUSER=postgres PGDATABASE=warehouse
"$PG_BIN/createdb" warehouse
echo "Debian $("$PG_BIN/postgres" --version) at $PGHOST:$PGPORT"
"$@"
