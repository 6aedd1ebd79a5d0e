#!/usr/bin/env bash
# Builds the release binaries as they ship (Swift runtime linked statically, lld with packed relocations) and runs
# the benchmarks; each prints its own figures.
# Usage: scripts/bench.sh                 every benchmark, with the figures the issues name
#        scripts/bench.sh mirror --objects 1000   one benchmark, with its own arguments
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
# Load generators for the flag server benchmark.
for tool in wrk hey; do
    command -v "$tool" >/dev/null || { echo "installing $tool"; ${SUDO:-$( [ "$(id -u)" -ne 0 ] && echo sudo )} apt-get install -y -qq --no-install-recommends "$tool" >/dev/null; }
done
swift build -c release --static-swift-stdlib --scratch-path .build-static
bench=.build-static/release/salespot-bench
if [ $# -gt 0 ]; then exec "$bench" "$@"; fi
"$bench" watch-decode --events 100000
"$bench" localcluster --objects 10000 --watchers 10
"$bench" mirror --objects 1000
"$bench" latency --changes 5000 --rate 1000
"$bench" cache --objects 10000 --compact
"$bench" bluegreen --resources 50
"$bench" bluegreen --resources 500 --workers 8 --runs 10
"$bench" bluegreen --resources 500 --workers 8 --runs 3 --analysis
"$bench" flags --flags 1000
# Disaster recovery: real BIND and moto (installed as for the tests).
scripts/install-deps.sh test >/dev/null
"$bench" dr-failover --provider bind --policies 10
"$bench" dr-failover --provider route53 --policies 10
"$bench" dr-probes --policies 200 --interval 10 --seconds 120
scripts/bench-backup.sh
