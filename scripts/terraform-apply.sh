#!/usr/bin/env bash
# Plan, show and apply one environment of infrastructure/terraform (the original design's terraform-apply.sh).
#
#   scripts/terraform-apply.sh ENV [--destroy] [--plan-only] [--plan-json FILE] [--yes [--allow-production]]
#
#   ENV                 dev, staging or production (run scripts/terraform-init.sh ENV first)
#   --destroy           plan and apply a destroy instead
#   --plan-only         stop after showing the plan (no confirmation asked, nothing changed)
#   --plan-json FILE    also write the plan as JSON (terraform show -json) to FILE
#   --yes               non-interactive (CI): apply without asking. Refuses production unless --allow-production.
#   --allow-production  with --yes: allow production
#
# Interactive runs ask before applying: "yes" for dev and staging; production wants its name typed
# ("production"). Without a terminal, --yes is required. The plan is saved to a file and exactly that plan is
# applied, so what was shown is what happens.
set -euo pipefail

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

. "$(dirname "${BASH_SOURCE[0]}")/../infrastructure/terraform/tools/tf-env.sh"

env_name=""
destroy=0
plan_only=0
plan_json=""
yes=0
allow_production=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --destroy) destroy=1; shift ;;
    --plan-only) plan_only=1; shift ;;
    --plan-json) [[ $# -ge 2 ]] || tf_die "--plan-json needs a file"; plan_json="$2"; shift 2 ;;
    --plan-json=*) plan_json="${1#*=}"; shift ;;
    --yes|-y) yes=1; shift ;;
    --allow-production) allow_production=1; shift ;;
    -*) usage >&2; tf_die "unknown option $1" ;;
    *) [[ -z "$env_name" ]] || tf_die "one environment only"; env_name="$1"; shift ;;
  esac
done
[[ -n "$env_name" ]] || { usage >&2; tf_die "which environment?"; }
tf_check_env "$env_name"
command -v terraform >/dev/null || tf_die "terraform is not installed"
[[ -n "$plan_json" ]] && plan_json="$(cd "$(dirname "$plan_json")" && pwd)/$(basename "$plan_json")"

# Refuse early, before planning, what will not be applied anyway.
if [[ $plan_only -eq 0 ]]; then
  if [[ $yes -eq 1 && "$env_name" == production && $allow_production -eq 0 ]]; then
    tf_die "refusing to change production non-interactively: add --allow-production (or run it from a terminal without --yes)"
  fi
  if [[ $yes -eq 0 && ! -t 0 ]]; then
    tf_die "no terminal to confirm on: pass --yes for a non-interactive run (or --plan-only)"
  fi
fi

tf_setup "$env_name"
[[ -d "$TF_DATA_DIR" ]] || tf_die "$env_name is not initialised: run scripts/terraform-init.sh $env_name first"
[[ -f "$TF_RUN_VARS" ]] || tf_die "$TF_RUN_VARS is missing: run scripts/terraform-init.sh $env_name again"
cd "$TF_ENV_DIR"

color=()
[[ -t 1 ]] || color=(-no-color)
plan_args=(-input=false -out="$TF_PLAN_FILE" -var-file="$TF_RUN_VARS" -detailed-exitcode ${color[@]+"${color[@]}"})
[[ $destroy -eq 1 ]] && plan_args+=(-destroy)

action="apply"; [[ $destroy -eq 1 ]] && action="destroy"
echo "== terraform plan ($env_name, $action)"
set +e
terraform plan "${plan_args[@]}" >/dev/null
rc=$?
set -e
case $rc in
  0) changes=0 ;;
  2) changes=1 ;;
  *) tf_die "terraform plan failed (exit $rc); rerun: cd $TF_ENV_DIR && TF_DATA_DIR=$TF_DATA_DIR terraform plan -var-file=$TF_RUN_VARS" ;;
esac

echo "== terraform show ($env_name)"
terraform show ${color[@]+"${color[@]}"} "$TF_PLAN_FILE"
if [[ -n "$plan_json" ]]; then
  terraform show -json "$TF_PLAN_FILE" > "$plan_json"
  echo "plan JSON: $plan_json"
fi

if [[ $plan_only -eq 1 ]]; then
  echo "plan only: nothing changed"
  exit 0
fi
if [[ $changes -eq 0 ]]; then
  echo "$env_name: no changes"
  rm -f "$TF_PLAN_FILE"
  exit 0
fi

if [[ $yes -eq 0 ]]; then
  if [[ "$env_name" == production ]]; then
    read -r -p "This will $action PRODUCTION. Type the environment name (production) to go on: " answer
    [[ "$answer" == production ]] || tf_die "not confirmed; nothing changed"
  else
    read -r -p "$action $env_name as planned above? (yes/no): " answer
    [[ "$answer" == yes ]] || tf_die "not confirmed; nothing changed"
  fi
fi

echo "== terraform apply ($env_name, $action)"
terraform apply -input=false ${color[@]+"${color[@]}"} "$TF_PLAN_FILE"
rm -f "$TF_PLAN_FILE"
echo "$env_name: $action done"
