#!/usr/bin/env bash
# terraform init of one environment of infrastructure/terraform (the original design's terraform-init.sh).
#
#   scripts/terraform-init.sh ENV [--emulator URL] [--backend-config KEY=VALUE]... [--no-backend]
#
#   ENV                 dev, staging or production
#   --emulator URL      point every AWS service at an emulator (moto server, e.g. http://127.0.0.1:5000) and turn
#                       off what it cannot do (infrastructure/terraform/tests/emulator.tfvars); also env
#                       SALESPOT_AWS_ENDPOINT. Without it: real AWS.
#   --no-emulator-gates with --emulator: keep every AWS-only part on (for plans against the emulator that show
#                       the whole AWS configuration; an apply would fail on what the emulator lacks)
#   --backend-config    passed to terraform init (for an S3 backend; see infrastructure/terraform/README.md)
#   --no-backend        init -backend=false (enough for validate)
#
# Working data (TF_DATA_DIR, the local state, plans, the run's variables) goes to $TF_WORK_ROOT/ENV (default
# ~/.local/state/salespot-terraform/ENV), never into the repository. Providers come from the offline filesystem
# mirror when the machine has one (TF_PLUGIN_MIRROR, or searched for), else from the registry.
set -euo pipefail

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }

. "$(dirname "${BASH_SOURCE[0]}")/../infrastructure/terraform/tools/tf-env.sh"

env_name=""
emulator="${SALESPOT_AWS_ENDPOINT:-}"
backend=1
gates=1
backend_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --emulator) [[ $# -ge 2 ]] || tf_die "--emulator needs a URL"; emulator="$2"; shift 2 ;;
    --emulator=*) emulator="${1#*=}"; shift ;;
    --backend-config) [[ $# -ge 2 ]] || tf_die "--backend-config needs KEY=VALUE"; backend_args+=("-backend-config=$2"); shift 2 ;;
    --no-backend) backend=0; shift ;;
    --no-emulator-gates) gates=0; shift ;;
    -*) usage >&2; tf_die "unknown option $1" ;;
    *) [[ -z "$env_name" ]] || tf_die "one environment only"; env_name="$1"; shift ;;
  esac
done
[[ -n "$env_name" ]] || { usage >&2; tf_die "which environment?"; }
tf_check_env "$env_name"
command -v terraform >/dev/null || tf_die "terraform is not installed"
if [[ -n "$emulator" && ! "$emulator" =~ ^https?:// ]]; then tf_die "--emulator wants an http(s) URL, not '$emulator'"; fi

tf_setup "$env_name"
if [[ -n "$emulator" ]]; then
  echo "WARNING: $env_name points at the AWS emulator $emulator${SALESPOT_AWS_ENDPOINT:+ (from SALESPOT_AWS_ENDPOINT)}, not at AWS" >&2
fi
if [[ -n "$TF_MIRROR" ]]; then
  echo "providers: filesystem mirror $TF_MIRROR"
else
  echo "providers: no filesystem mirror found; using the registry (set TF_PLUGIN_MIRROR to use one)"
fi

# The run's variables: empty for AWS; the endpoint and the emulator gates for an emulator.
{
  echo "# Written by scripts/terraform-init.sh $env_name: used by scripts/terraform-apply.sh."
  if [[ -n "$emulator" ]]; then
    echo "aws_endpoint = \"$emulator\""
    [[ $gates -eq 1 ]] && cat "$TF_ROOT/tests/emulator.tfvars"
  fi
} > "$TF_RUN_VARS"
if [[ -z "$emulator" ]]; then echo "target: AWS"
elif [[ $gates -eq 1 ]]; then echo "target: emulator at $emulator (gates from tests/emulator.tfvars)"
else echo "target: emulator at $emulator (no gates: plan only)"; fi

init_args=(-input=false)
if [[ $backend -eq 1 ]]; then
  if [[ ${#backend_args[@]} -gt 0 ]]; then
    init_args+=(-reconfigure "${backend_args[@]}")
  else
    init_args+=(-reconfigure "-backend-config=path=$TF_STATE_FILE")
  fi
else
  init_args+=(-backend=false)
fi
cd "$TF_ENV_DIR"
terraform init "${init_args[@]}"
echo "initialised $env_name: working data in $TF_WORK_DIR"
