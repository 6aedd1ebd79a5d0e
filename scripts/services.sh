#!/usr/bin/env bash
# Starts or stops the servers the backup tests talk to: SeaweedFS (S3, on 127.0.0.1:8333) and PostgreSQL 15 (on
# 127.0.0.1:55432, password authentication over TCP, role `salespot` with password `salespot-test-pw`).
# Usage: scripts/services.sh start|stop      Prints the environment the tests read (SALESPOT_TEST_*).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
state="${SALESPOT_SERVICES_DIR:-/tmp/salespot-services}"
pgbin=/usr/lib/postgresql/15/bin
weed="$root/.venv/bin/weed"

stop() {
    if [ -f "$state/weed.pid" ]; then
        pid=$(cat "$state/weed.pid"); kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    if [ -f "$state/pg/postmaster.pid" ]; then
        su postgres -s /bin/bash -c "$pgbin/pg_ctl -D '$state/pg' -m fast -w stop" >/dev/null 2>&1 || true
    fi
    rm -rf "$state"
}

start() {
    stop
    mkdir -p "$state/s3" "$state/pgsock"
    [ -x "$weed" ] || { echo "error: SeaweedFS (weed) is missing: run scripts/install-deps.sh test" >&2; exit 1; }
    [ -x "$pgbin/initdb" ] || { echo "error: PostgreSQL 15 is missing (postgresql-15): run scripts/install-deps.sh test" >&2; exit 1; }
    cat > "$state/s3.json" <<'JSON'
{"identities":[{"name":"admin","credentials":[{"accessKey":"salespot-test-key","secretKey":"salespot-test-secret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
    # A PID we own: weed runs in the background of this script, its output in a log file.
    setsid "$weed" mini -dir="$state/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.config="$state/s3.json" \
        -master.telemetry=false -webdav=false -admin.ui=false >"$state/weed.log" 2>&1 < /dev/null &
    echo $! > "$state/weed.pid"
    chown -R postgres "$state/pgsock"
    mkdir -p "$state/pg" "$state/pglog" && chown postgres "$state/pg" "$state/pglog"
    echo "salespot-test-pw" > "$state/pwfile" && chown postgres "$state/pwfile"
    su postgres -s /bin/bash -c "$pgbin/initdb -D '$state/pg' -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile='$state/pwfile'" >/dev/null
    su postgres -s /bin/bash -c "$pgbin/pg_ctl -D '$state/pg' -l '$state/pglog/pg.log' -o \"-p 55432 -k $state/pgsock -c listen_addresses=127.0.0.1 -c max_connections=60\" -w start" >/dev/null
    su postgres -s /bin/bash -c "psql -h '$state/pgsock' -p 55432 -U postgres -qc \"CREATE ROLE salespot LOGIN SUPERUSER PASSWORD 'salespot-test-pw'\"" >/dev/null
    for _ in $(seq 100); do
        if curl -s -o /dev/null "http://127.0.0.1:8333/"; then break; fi
        sleep 0.2
    done
    curl -s -o /dev/null "http://127.0.0.1:8333/" || { echo "error: SeaweedFS did not start; its log:" >&2; tail -20 "$state/weed.log" >&2; exit 1; }
    echo "export SALESPOT_TEST_S3=http://127.0.0.1:8333 SALESPOT_TEST_S3_KEY=salespot-test-key SALESPOT_TEST_S3_SECRET=salespot-test-secret"
    echo "export SALESPOT_TEST_PG=127.0.0.1:55432 SALESPOT_TEST_PG_USER=salespot SALESPOT_TEST_PG_PASSWORD=salespot-test-pw"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
