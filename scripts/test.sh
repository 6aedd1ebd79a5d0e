#!/usr/bin/env bash
# One command: installs what the tests need, builds once, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
swift build --build-tests
# The README's first five minutes, as written (scripts/dev.sh builds the release binary and runs dev mode).
scripts/tour.sh
# Swift Testing runs tests in parallel inside one process; suites that share a server are serialized.
swift test --skip-build
