#!/usr/bin/env bash
# Start a throw-away PostgreSQL cluster on 127.0.0.1 for the tests; print its URL on stdout.
# Usage: eval "$(bash .ci/postgres.sh start)"   /   bash .ci/postgres.sh stop
set -euo pipefail
PGPORT=${HAITIWATCH_TEST_PG_PORT:-54329}
PGDATA=${HAITIWATCH_TEST_PG_DIR:-/tmp/haitiwatch-ci-pg}

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$dir" ]; then
        echo "installing postgresql" >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >&2
        dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    echo "$dir"
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cd /  # runuser as postgres cannot read the caller's folder
case "${1:-start}" in
start)
    BIN=$(pg_bin)
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql postgres
    fi
    rm -rf "$PGDATA"; mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
    as_pg "$BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    as_pg "$BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
        -o "-h 127.0.0.1 -p $PGPORT -k $PGDATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
    as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres haitiwatch_test
    echo "export HAITIWATCH_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PGPORT/haitiwatch_test"
    ;;
stop)
    BIN=$(pg_bin)
    as_pg "$BIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null || true
    ;;
esac
