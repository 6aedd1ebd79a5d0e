#!/usr/bin/env bash
# One command: installs what is missing, builds, and runs the operator on its embedded local Kubernetes API server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
swift build -c release --product salespot-operator
exec .build/release/salespot-operator dev "$@"
