#!/usr/bin/env bash
# The backup benchmarks (issue 12), on the release binaries: needs scripts/services.sh (SeaweedFS, PostgreSQL).
#  1. A generated database of at least 1 GiB: `salespot-operator backup run` (pg_dump -Fc streamed to S3, verified)
#     next to `pg_dump -Fc > /dev/null` alone, three interleaved rounds; the runner's peak RSS.
#  2. A 1 GiB stream uploaded to SeaweedFS: salespot-bench s3-put next to `aws s3 cp -`, three interleaved rounds.
# Usage: scripts/bench-backup.sh [--rows N] [--rounds R]     (defaults: 7,000,000 rows ≈ 1.1 GiB; 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=7000000; rounds=3
while [ $# -gt 0 ]; do case "$1" in --rows) rows=$2; shift 2 ;; --rounds) rounds=$2; shift 2 ;; *) echo "unknown $1" >&2; exit 2 ;; esac; done
op=.build-static/release/salespot-operator
bench=.build-static/release/salespot-bench
[ -x "$op" ] && [ -x "$bench" ] || { echo "build first: swift build -c release --static-swift-stdlib --scratch-path .build-static" >&2; exit 1; }
command -v aws >/dev/null || pip install -q awscli
trap 'scripts/services.sh stop' EXIT
eval "$(scripts/services.sh start)"
export AWS_ACCESS_KEY_ID=$SALESPOT_TEST_S3_KEY AWS_SECRET_ACCESS_KEY=$SALESPOT_TEST_S3_SECRET AWS_DEFAULT_REGION=us-east-1
export PGPASSWORD=$SALESPOT_TEST_PG_PASSWORD
pghost=${SALESPOT_TEST_PG%:*}; pgport=${SALESPOT_TEST_PG#*:}
psql() { command psql -X -q -h "$pghost" -p "$pgport" -U "$SALESPOT_TEST_PG_USER" "$@"; }
aws --endpoint-url "$SALESPOT_TEST_S3" s3 mb s3://bench >/dev/null

echo "generating the database ($rows rows)..."
psql -d postgres -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench"
# Orders-like rows: numbers, timestamps, and text that compresses as real text does (md5 hex, half random).
psql -d bench -c "CREATE TABLE orders (id bigint, customer text, total numeric(12,2), placed timestamptz, note text, payload text)" \
     -c "INSERT INTO orders SELECT i, 'customer-' || (i % 100000), (i % 100000) / 7.0, now() - i * interval '1 second', md5(i::text), md5((i * 7)::text) || md5(random()::text) || repeat('x', 40) FROM generate_series(1, $rows) i"
size=$(psql -d bench -At -c "SELECT pg_database_size('bench')")
echo "database size: $((size / 1048576)) MiB"

plan=$(mktemp)
cat > "$plan" <<JSON
{"backup":"bench","namespace":"bench","policy":"bench","type":"database","keyPrefix":"bench/","compression":"gzip","level":6,"verify":false,
 "s3":{"endpoint":"$SALESPOT_TEST_S3","region":"us-east-1","bucket":"bench","pathStyle":true},
 "database":{"host":"$pghost","port":$pgport,"database":"bench","user":"$SALESPOT_TEST_PG_USER"}}
JSON
for r in $(seq "$rounds"); do
    # GNU time's %M is the largest of the process and its children (pg_dump included): the runner reports its
    # own peak (VmHWM) in its log, and pg_dump's alone is measured here.
    o1=$( { /usr/bin/time -f "%e %M" pg_dump -Fc -h "$pghost" -p "$pgport" -U "$SALESPOT_TEST_PG_USER" -d bench > /dev/null; } 2>&1 | tail -1)
    t1=${o1% *}; pgrss=${o1#* }
    log=$(mktemp); tf=$(mktemp)
    /usr/bin/time -o "$tf" -f "%e %M" "$op" backup run --plan "$plan" > /dev/null 2>"$log"
    out=$(tail -1 "$tf"); rm -f "$tf"
    t2=${out% *}; rss=${out#* }
    own=$(sed -n 's/.*peak memory (its own, not its children.s): \([0-9]*\) MiB.*/\1/p' "$log" | tail -1); rm -f "$log"
    dump=$(aws --endpoint-url "$SALESPOT_TEST_S3" s3api head-object --bucket bench --key bench/database.dump --query ContentLength --output text)
    echo "round $r: pg_dump -Fc > /dev/null ${t1}s (pg_dump's peak RSS $((pgrss / 1024)) MiB); backup run (pg_dump -Fc to S3, $((dump / 1048576)) MiB stored) ${t2}s = $(awk "BEGIN { printf \"%.1f\", 100 * $t1 / $t2 }")% of pg_dump's throughput; runner's own peak RSS ${own:-?} MiB (with its pg_dump: $((rss / 1024)) MiB)"
done

echo "uploading a 1 GiB stream..."
blob=$(mktemp); head -c 1073741824 /dev/urandom > "$blob"
for r in $(seq "$rounds"); do
    t1=$( { /usr/bin/time -f "%e %M" aws --endpoint-url "$SALESPOT_TEST_S3" s3 cp - s3://bench/aws-$r < "$blob"; } 2>&1 | tail -1)
    out=$("$bench" s3-put --endpoint "$SALESPOT_TEST_S3" --bucket bench --key ours-$r < "$blob")
    echo "round $r: aws s3 cp - ${t1% *}s (peak RSS $(( ${t1#* } / 1024 )) MiB); $out"
done
rm -f "$blob" "$plan"
