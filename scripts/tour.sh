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

# A fresh kubeconfig and cluster; the pid files of a dev that was killed stay, so this dev stops what it left running.
if [ -d .salespot ]; then find .salespot -mindepth 1 -maxdepth 1 ! -name 'demo-processes.*' -exec rm -rf {} +; fi
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
# The rest is written in the README exactly as run here: each command must appear there verbatim.
readme_step() {
    grep -qF -- "\$ $2" README.md || fail "'$2' is not in README.md as written"
    step "$@"
}
# Backups and a failover on the local PostgreSQL, SeaweedFS and BIND that dev started (scripts/install-deps.sh test
# installed them; when they are missing, dev says so and this fails, naming them).
grep -q "^backups: PostgreSQL on" "$log/dev.out" || fail "dev did not show backups: $(grep '^backups' "$log/dev.out")"
grep -q "^disaster recovery: BIND on 127.0.0.1:8053 .*the sites' health on http://127.0.0.1:8014;" "$log/dev.out" ||
    fail "dev did not show DR on 127.0.0.1:8053 and :8014 (taken by something else?): $(grep '^disaster' "$log/dev.out")"
readme_step 'condition met' "kubectl wait backup/dev-full-now --for=jsonpath='{.status.phase}'=Completed --timeout=120s"
readme_step 'dev-full-now +dev-full +full +Completed +[0-9]+ +yes' "salespot-operator backup list"
readme_step 'condition met' "kubectl wait restore/dev-full-now-check --for=condition=Ready --timeout=120s"
readme_step '"passed":true,"result":"3"' "kubectl get restore dev-full-now-check -o jsonpath='{.status.check}'"
readme_step '^192\.0\.2\.10$' "dig @127.0.0.1 -p 8053 +short app.salespot.test"
readme_step 'primary: now failing its health checks' "curl -s -X POST http://127.0.0.1:8014/primary/fail"
readme_step 'condition met' "kubectl wait drpolicy/dev-site --for=jsonpath='{.status.activeSite}'=secondary --timeout=60s"
readme_step '^198\.51\.100\.20$' "dig @127.0.0.1 -p 8053 +short app.salespot.test"
readme_step 'dev-site +secondary +down \([0-9]+ failed\) +healthy +yes +primary→secondary' "salespot-operator dr status"
readme_step 'SwitchedSite +drpolicy/dev-site +app.salespot.test. now points at the secondary site \(198.51.100.20\)' "kubectl get events --field-selector involvedObject.name=dev-site"
readme_step 'primary: healthy again' "curl -s -X POST http://127.0.0.1:8014/primary/recover"
readme_step 'condition met' "kubectl wait drpolicy/dev-site --for=condition=PrimaryHealthy --timeout=60s"
readme_step 'the record points at the primary site' "salespot-operator dr failover dev-site --to primary --wait"
readme_step '^192\.0\.2\.10$' "dig @127.0.0.1 -p 8053 +short app.salespot.test"

# Installing in a cluster, against the same API server (dev's operator stands in for the Deployment's). The
# production overlay's ServiceMonitor and PrometheusRule need prometheus-operator's CRDs, as the README says.
kubectl apply --server-side -f Tests/Fixtures/prometheus-operator-crds.yaml >/dev/null || fail "prometheus-operator's CRDs did not apply"
readme_step 'deployment.apps/salespot-operator created' "kubectl apply -k manifests/overlays/production"
readme_step 'successfully rolled out' "kubectl -n salespot-system rollout status deployment/salespot-operator --timeout=180s"
readme_step 'rolebinding.rbac.authorization.k8s.io/salespot-backup-runner created' "kubectl create rolebinding salespot-backup-runner -n salespot --clusterrole=salespot-backup-runner --serviceaccount=salespot:default"
readme_step 'featureflag.ops.salespot.by/new-checkout created' "kubectl apply -n salespot -f manifests/samples/flag-new-checkout.yaml"
readme_step 'condition met' "kubectl wait -n salespot featureflag/new-checkout --for=condition=Ready --timeout=60s"
echo "tour: every step printed what the README shows"
