#!/usr/bin/env bash
# A throwaway PostgreSQL primary and a streaming replica (pg_basebackup -R) for the tests
# that need a real hot standby (test/**/*.replica.test.ts). Both clusters live in one temp
# folder, on free ports, listening on 127.0.0.1 only with trust authentication; nothing of
# the machine's own cluster is touched.
#
#   eval "$(scripts/replica-pair.sh start)"   # prints the export lines below
#   scripts/replica-pair.sh stop "$STRATA_REPLICA_PAIR_DIR"
#
# start exports TEST_REPLICA_PRIMARY_URL and TEST_REPLICA_URL (the `postgres` database of
# each; tests create databases of their own on the primary) and STRATA_REPLICA_PAIR_DIR.
# initdb refuses root: run as root, the clusters belong to STRATA_PAIR_USER (default
# postgres); run as anyone else, to that user. The binaries: STRATA_PG_BIN, else the
# newest /usr/lib/postgresql/*/bin, else PATH. Progress goes to stderr.
set -Eeuo pipefail

usage() {
  echo "usage: $0 start | stop <dir>" >&2
  exit 2
}

bin="${STRATA_PG_BIN:-}"
if [ -z "$bin" ]; then
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$newest" ]; then bin="$newest"; else bin="$(dirname "$(command -v initdb)")"; fi
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "${STRATA_PAIR_USER:-postgres}" -- "$@"
  else
    "$@"
  fi
}

stop_pair() { # <dir>: stops whichever cluster runs there and removes the folder
  local dir="$1"
  [ -d "$dir" ] || return 0
  for node in replica primary; do
    if [ -f "$dir/$node/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/$node" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$dir"
}

free_port() { # a port on 127.0.0.1 that nothing answers on
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

psql_at() { # <port> <sql>: one value
  "$bin/psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -XAtqc "$2"
}

start_pair() {
  local dir primary_port replica_port
  dir=$(mktemp -d "${TMPDIR:-/tmp}/strata-replica-pair.XXXXXX")
  chmod 755 "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown "${STRATA_PAIR_USER:-postgres}" "$dir"; fi
  # From here on, a failure removes what was made.
  trap 'stop_pair "$dir"' ERR
  primary_port=$(free_port)
  replica_port=$(free_port)
  while [ "$replica_port" = "$primary_port" ]; do replica_port=$(free_port); done

  echo "::: replica pair in $dir: primary on $primary_port, replica on $replica_port ($bin)" >&2
  as_owner "$bin/initdb" -D "$dir/primary" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    false
  }
  # Small and fast: a test pair, not a database anyone keeps.
  as_owner tee -a "$dir/primary/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $primary_port
unix_socket_directories = '$dir'
shared_buffers = 16MB
max_connections = 120
fsync = off
full_page_writes = off
wal_level = replica
max_wal_senders = 4
wal_keep_size = 128MB
hot_standby = on
hot_standby_feedback = on
EOF
  as_owner tee "$dir/primary/pg_hba.conf" >/dev/null <<EOF
local all         all                trust
host  all         all  127.0.0.1/32  trust
host  replication all  127.0.0.1/32  trust
EOF
  as_owner "$bin/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w -t 60 start >/dev/null

  as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
    -D "$dir/replica" -R -X stream --no-sync
  # The copy carries the primary's settings; the last line of a setting wins.
  echo "port = $replica_port" | as_owner tee -a "$dir/replica/postgresql.conf" >/dev/null
  as_owner "$bin/pg_ctl" -D "$dir/replica" -l "$dir/replica.log" -w -t 60 start >/dev/null

  for _ in $(seq 1 120); do
    if [ "$(psql_at "$replica_port" 'SELECT pg_is_in_recovery()' 2>/dev/null)" = "t" ] &&
      [ "$(psql_at "$primary_port" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null)" = "1" ]; then
      echo "::: replica streams from the primary" >&2
      trap - ERR
      echo "export STRATA_REPLICA_PAIR_DIR=$dir"
      echo "export TEST_REPLICA_PRIMARY_URL=postgres://postgres@127.0.0.1:$primary_port/postgres"
      echo "export TEST_REPLICA_URL=postgres://postgres@127.0.0.1:$replica_port/postgres"
      return 0
    fi
    sleep 0.5
  done
  echo "the replica did not start streaming; its log:" >&2
  tail -n 30 "$dir/replica.log" >&2 || true
  stop_pair "$dir"
  return 1
}

case "${1:-}" in
  start) start_pair ;;
  stop)
    [ -n "${2:-}" ] || usage
    stop_pair "$2"
    ;;
  *) usage ;;
esac
