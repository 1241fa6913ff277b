#!/usr/bin/env bash
# Prints a PostgreSQL URL the tests can use, starting a server if needed:
#   1. $DATABASE_URL, if a server answers there;
#   2. 127.0.0.1:5432 as user postgres (the dev/CI machines have one);
#   3. a throwaway cluster under target/pg (initdb + pg_ctl), installing
#      Debian's postgresql package first when no server binaries exist.
# With OMNICASE_PG_PRIVATE=1 it always uses a cluster of its own (port
# 55433, target/pg-private) that may be stopped and started at will (the
# fault suite restarts it under load):
#   OMNICASE_PG_PRIVATE=1 scripts/ensure-postgres.sh [start|stop]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "ensure-postgres: $*" >&2; }

answers() {
  command -v psql >/dev/null 2>&1 || return 1
  PGCONNECT_TIMEOUT=3 psql "$1" -tAc 'select 1' >/dev/null 2>&1
}

action="${1:-start}"
private="${OMNICASE_PG_PRIVATE:-}"
if [ -z "$private" ]; then
  if [ -n "${DATABASE_URL:-}" ] && [[ "$DATABASE_URL" == postgres* ]] && answers "$DATABASE_URL"; then
    echo "$DATABASE_URL"; exit 0
  fi
  default_url="postgres://postgres@127.0.0.1:5432/postgres"
  if answers "$default_url"; then
    echo "$default_url"; exit 0
  fi
  port=55432
  cluster="$PWD/target/pg"
else
  port=55433
  cluster="$PWD/target/pg-private"
fi
url="postgres://postgres@127.0.0.1:${port}/postgres"
if [ "$action" = start ] && answers "$url"; then
  # The private cluster must be this checkout's: the fault suite stops and
  # starts it, and stopping another checkout's would do nothing here.
  if [ -n "$private" ] && [ ! -f "$cluster/data/postmaster.pid" ]; then
    log "port $port answers, but not with this checkout's cluster ($cluster);"
    log "stop the other one first: OMNICASE_PG_PRIVATE=1 scripts/ensure-postgres.sh stop, in its checkout"
    exit 1
  fi
  echo "$url"; exit 0
fi

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  ls -1d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1
}

initdb_bin=$(find_bin initdb || true)
if [ -z "$initdb_bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's postgresql package"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >&2
    initdb_bin=$(find_bin initdb)
  else
    log "no PostgreSQL server binaries and cannot install them; set DATABASE_URL"; exit 1
  fi
fi
bindir=$(dirname "$initdb_bin")
data="$cluster/data"
run="$cluster/run"
mkdir -p "$run"

# PostgreSQL refuses to run as root: run it as an unprivileged user.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown -R postgres "$cluster"
  as_pg=(runuser -u postgres --)
fi

if [ "$action" = stop ]; then
  "${as_pg[@]}" "$bindir/pg_ctl" -D "$data" -m fast -w stop >&2 || true
  exit 0
fi

if [ ! -f "$data/PG_VERSION" ]; then
  log "creating a throwaway cluster in $data"
  "${as_pg[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >&2
fi
log "starting PostgreSQL on 127.0.0.1:$port"
"${as_pg[@]}" "$bindir/pg_ctl" -D "$data" -l "$cluster/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $run -c max_connections=300 -c fsync=off" start >&2
for _ in $(seq 1 50); do answers "$url" && break; sleep 0.2; done
answers "$url" || { log "server did not come up; see $cluster/server.log"; exit 1; }
echo "$url"
