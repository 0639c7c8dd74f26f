#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: its own `initdb` in a directory of its own, run as
# an unprivileged user (PostgreSQL refuses to run as root), listening on 127.0.0.1 on a free port,
# with password-less access for the local test user `ssrm`. Nothing outside the directory is
# touched; `stop` removes it.
#   scripts/postgres.sh start DIR   prints the cluster's URL, e.g. postgres://ssrm@127.0.0.1:PORT/postgres
#   scripts/postgres.sh stop DIR    stops the cluster and removes DIR
#   scripts/postgres.sh restart DIR stops the server (fast shutdown: every connection is cut) and
#                                   starts it again on the same port, data kept
# The PostgreSQL server binaries come from Debian's `postgresql` package
# (scripts/prerequisites.sh test installs it).
set -euo pipefail

usage() {
  echo "usage: scripts/postgres.sh start|stop|restart DIR" >&2
  exit 2
}
(($# == 2)) || usage
action="$1"
dir="$2"

bin=""
for candidate in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")" \
  /usr/lib/postgresql/*/bin; do
  if [[ -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]]; then
    bin="$candidate"
  fi
done
if [[ -z "$bin" ]]; then
  echo "postgres: no PostgreSQL server binaries (initdb, pg_ctl); install them: apt-get install postgresql" >&2
  exit 1
fi

# The server runs as the invoking user, or as `nobody` when that is root.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

case "$action" in
  start)
    mkdir -p "$dir"
    [[ "$(id -u)" == 0 ]] && chown nobody "$dir"
    chmod 700 "$dir"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_owner "$bin/initdb" --pgdata="$dir/data" --username=ssrm --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
      echo "postgres: initdb failed, see $dir/initdb.log" >&2
      exit 1
    }
    # Durability as in production (fsync and synchronous_commit stay on); enough connections for
    # the tests' servers, each with its own pool.
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --silent \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
          -c max_connections=400 -c shared_buffers=128MB" start || {
      echo "postgres: the server did not start, see $dir/server.log" >&2
      exit 1
    }
    echo "postgres://ssrm@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait --silent stop || true
    fi
    rm -rf "$dir"
    ;;
  restart)
    # pg_ctl restart starts the server with the options it was last started with.
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --mode=fast --wait \
      --silent restart || {
      echo "postgres: the server did not restart, see $dir/server.log" >&2
      exit 1
    }
    ;;
  *) usage ;;
esac
