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
swift test --skip-build --skip FeatureFlagsTests --skip DisasterRecoveryTests --skip DNSProvidersTests
swift test --skip-build --filter FeatureFlagsTests
# The DNS suites start BIND, Knot and moto and probe sites every second: on their own too, for the same reason.
swift test --skip-build --filter DNSProvidersTests
swift test --skip-build --filter DisasterRecoveryTests
# The infrastructure: terraform fmt and validate of every environment, dev applied to moto server and checked from
# outside with boto3, a production plan compared with dev's, dev destroyed (no Swift: its own script).
scripts/test-terraform.sh
