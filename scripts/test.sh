#!/usr/bin/env bash
# One command: installs what the tests need, builds once, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
swift build --build-tests
# The README's first five minutes, as written (scripts/dev.sh builds the release binary and runs dev mode).
scripts/tour.sh
# Swift Testing runs tests in parallel inside one process; suites that share a server are serialized. The feature
# flag suites (a Python reference evaluator, 100,000-user rollouts, several operator processes) and the DNS ones run
# on their own after the rest, so their load does not starve the leader-election and term tests' timings on 2 cores.
# The backup tests' servers (SeaweedFS, PostgreSQL), started once for the whole run and stopped at the end.
trap 'scripts/services.sh stop' EXIT
eval "$(scripts/services.sh start)"
# Each run has a deadline (a hang fails it in minutes, not at CI's limit, and says where it hung: the report has
# every thread's stack) and stdin from /dev/null (no child can wait on a terminal or pipe that never closes). (Not
# stdbuf for line-buffered output: its LD_PRELOAD reaches every process the tests start, ldd's answers included.)
# A run that passes its deadline is reported, killed and run once more, saying so; a run whose tests fail is not.
# Worst case, every run hanging twice: about 45 minutes of tests, inside CI's 90 with the build and Terraform.
swift_test() {
    local limit=$1; shift
    local attempt pid waited
    for attempt in 1 2; do
        swift test --skip-build "$@" </dev/null &
        pid=$! waited=0
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt "$limit" ]; do
            sleep 1
            waited=$((waited + 1))
        done
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            return
        fi
        echo "error: 'swift test $*' still running after ${limit} s (attempt $attempt); what it is doing:" >&2
        scripts/hang-report.sh --kill "$pid" >&2 || true
        wait "$pid" 2>/dev/null || true
        [ "$attempt" -eq 1 ] && echo "warning: 'swift test $*' HUNG and was killed; running it once more (the report above says where it hung)" >&2
    done
    return 1
}
swift_test 600 --skip FeatureFlagsTests --skip DisasterRecoveryTests --skip DNSProvidersTests --skip AWSCoreTests
swift_test 240 --filter FeatureFlagsTests
# The DNS suites start BIND, Knot and moto and probe sites every second, and the AWS credential suite starts three
# moto servers and awscli (Python, heavy at start): on their own too, for the same reason.
swift_test 240 --filter DNSProvidersTests --filter AWSCoreTests
swift_test 420 --filter DisasterRecoveryTests
# The infrastructure: terraform fmt and validate of every environment, dev applied to moto server and checked from
# outside with boto3, a production plan compared with dev's, dev destroyed (no Swift: its own script).
scripts/test-terraform.sh
