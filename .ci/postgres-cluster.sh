#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests that need one.
#
#   eval "$(bash .ci/postgres-cluster.sh start)"   # exports HARDSHELL_TEST_POSTGRES
#   bash .ci/postgres-cluster.sh stop "$HARDSHELL_TEST_POSTGRES_DIR"
#   bash .ci/postgres-cluster.sh pause|resume DIR  # server down / up again,
#                                                  # same port and data
#
# The cluster lives in a fresh temporary directory, listens only on
# 127.0.0.1 (a free port) and on a Unix socket inside that directory, and
# needs a password (SCRAM): the tests connect the way an installation would.
# initdb refuses to run as root, so as root the cluster runs as `nobody`.
# Nothing here installs packages; `.ci/run` does that.
set -euo pipefail

find_bin() {
  if command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
    return
  fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/$1" ]; then
    echo "$dir/$1"
    return
  fi
  echo "error: $1 not found; install PostgreSQL (Debian: apt-get install postgresql)" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

# A port nothing answers on (bash only: CI may have no Python).
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "error: no free port found" >&2
  exit 1
}

# fsync off: a throw-away cluster for tests; nothing here must survive a
# power cut, and it keeps the suite fast on a shared disk.
server_opts() {
  echo "-c listen_addresses=127.0.0.1 -c port=$1 -c unix_socket_directories=$2/socket -c fsync=off -c max_connections=300 -c shared_buffers=64MB"
}

start() {
  local initdb pg_ctl dir port password
  initdb=$(find_bin initdb)
  pg_ctl=$(find_bin pg_ctl)
  dir=$(mktemp -d /tmp/hardshell-pg.XXXXXX)
  chmod 755 "$dir"
  password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$password" >"$dir/pwfile"
  mkdir "$dir/data" "$dir/socket"
  if [ "$(id -u)" = 0 ]; then
    chown -R nobody "$dir"
  fi
  as_owner "$initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$dir/pwfile" --no-sync --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  # A port taken between the probe and the start is retried.
  local started=""
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "$(server_opts "$port" "$dir")" \
      >/dev/null; then
      started=1
      break
    fi
  done
  [ -n "$started" ] || { cat "$dir/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  echo "export HARDSHELL_TEST_POSTGRES='postgres://postgres:$password@127.0.0.1:$port/postgres'"
  echo "export HARDSHELL_TEST_POSTGRES_DIR='$dir'"
}

check_dir() {
  case "$1" in
    /tmp/hardshell-pg.*) ;;
    *) echo "error: $1 is not a cluster this script made" >&2; exit 1 ;;
  esac
}

pause() {
  local dir=${1:?usage: postgres-cluster.sh pause DIR}
  check_dir "$dir"
  as_owner "$(find_bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null
}

resume() {
  local dir=${1:?usage: postgres-cluster.sh resume DIR}
  check_dir "$dir"
  local port
  port=$(cat "$dir/port")
  as_owner "$(find_bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "$(server_opts "$port" "$dir")" \
    >/dev/null
}

stop() {
  local dir=${1:?usage: postgres-cluster.sh stop DIR}
  local pg_ctl
  pg_ctl=$(find_bin pg_ctl)
  check_dir "$dir"
  as_owner "$pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  pause) pause "${2:-}" ;;
  resume) resume "${2:-}" ;;
  *) echo "usage: postgres-cluster.sh start | stop DIR | pause DIR | resume DIR" >&2; exit 2 ;;
esac
