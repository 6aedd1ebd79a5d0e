#!/usr/bin/env bash
# One command: installs what is missing, builds, and runs the operator on its embedded local Kubernetes API server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
swift build -c release --product salespot-operator
# By absolute path, so the commands it prints work from any directory.
exec "$PWD/.build/release/salespot-operator" dev "$@"
