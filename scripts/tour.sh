#!/usr/bin/env bash
# Runs the README's "First five minutes" tour as written: scripts/dev.sh in the background, then the tour's commands
# in order, checking that each prints what the README shows. scripts/test.sh runs it after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp -d)
dev=
cleanup() {
    if [ -n "$dev" ]; then kill -TERM "$dev" 2>/dev/null || true; wait "$dev" 2>/dev/null || true; fi
    rm -rf "$log"
}
trap cleanup EXIT
fail() { echo "tour: $*" >&2; echo "--- dev stdout" >&2; cat "$log/dev.out" >&2; echo "--- dev stderr (last 40 lines)" >&2; tail -40 "$log/dev.err" >&2; exit 1; }

rm -rf .salespot
scripts/dev.sh >"$log/dev.out" 2>"$log/dev.err" &
dev=$!
for _ in $(seq 1 1200); do
    grep -q "Press Ctrl+C" "$log/dev.out" 2>/dev/null && break
    kill -0 "$dev" 2>/dev/null || fail "scripts/dev.sh exited before it was ready"
    sleep 1
done
grep -q "Press Ctrl+C" "$log/dev.out" || fail "scripts/dev.sh was not ready after 20 minutes"
metrics=$(grep -o 'http://127.0.0.1:[0-9]*/metrics' "$log/dev.out" | head -1)

# Each step: the command as the README writes it, and a pattern its output must contain.
step() {
    local expect="$1"; shift
    echo "\$ $*"
    local out
    out=$(eval "$@" 2>&1) || fail "'$*' failed: $out"
    echo "$out"
    grep -Eq -- "$expect" <<<"$out" || fail "'$*' did not print /$expect/"
}
export KUBECONFIG=$PWD/.salespot/kubeconfig PATH=$PWD/.build/release:$PATH
step 'api +blue +Healthy +True' "kubectl wait bgd --all --for=jsonpath='{.status.phase}'=Healthy --timeout=60s >/dev/null && kubectl get bgd"
step 'api-blue-[a-z0-9]+-[a-z0-9]{5} +1/1 +Running' "kubectl get pods -l app=api"
step 'deploying with registry.salespot.by/api:1.1.0' "salespot-operator bluegreen deploy api --image registry.salespot.by/api:1.1.0"
step 'condition met' "kubectl wait bgd/api --for=jsonpath='{.status.activeColor}'=green --timeout=60s"
step 'api +green +blue +Promoted' "salespot-operator bluegreen status"
step 'Promoted +bluegreendeployment/api +traffic switched to green' "kubectl get events --field-selector involvedObject.name=api"
step 'deploying with registry.salespot.by/web:1.1.0' "salespot-operator bluegreen deploy web --image registry.salespot.by/web:1.1.0"
step 'condition met' "kubectl wait bgd/web --for=jsonpath='{.status.phase}'=Paused --timeout=60s"
step 'promoted' "salespot-operator bluegreen promote web"
step 'condition met' "kubectl wait bgd/web --for=jsonpath='{.status.activeColor}'=green --timeout=60s"
step 'salespot_bluegreen_switches_total\{namespace="default"\} 4' "curl -s $metrics | grep salespot_bluegreen_switches_total"
step 'new-checkout +boolean +true +false +2 +True \(Served\)' "salespot-operator flags list"
step '"value":true,"reason":"TARGETING_MATCH","variant":"testers"' "curl -s 'http://127.0.0.1:8013/feature-flags/new-checkout/value?userId=alice'"
step 'patched' "kubectl patch ff new-checkout --type merge -p '{\"spec\":{\"enabled\":false}}'"
step '"value":false,"reason":"DISABLED"' "sleep 1; curl -s -X POST http://127.0.0.1:8013/ofrep/v1/evaluate/flags/new-checkout -d '{\"context\":{\"targetingKey\":\"alice\"}}'"
echo "tour: every step printed what the README shows"
