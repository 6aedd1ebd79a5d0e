#!/usr/bin/env bash
# What the operator's manifests need from an applied environment, from `terraform output -json`.
#
#   scripts/terraform-outputs.sh ENV [--patch | --runner-serviceaccount | --samples | --json]
#
#   --patch (default)         a kustomize patch (strategic merge) annotating the operator's ServiceAccount with its
#                             IRSA role: save it as manifests/overlays/ENV/serviceaccount-irsa.yaml and list it
#                             under the overlay's patches
#   --runner-serviceaccount   a ServiceAccount salespot-backup-runner for each watched namespace, annotated with
#                             the backup runner's role (for the Jobs: --job-service-account or spec.job.serviceAccountName)
#   --samples                 the values the BackupPolicy and DRPolicy samples take (YAML)
#   --json                    every output, as terraform prints it
#
# Reads the state of scripts/terraform-init.sh ENV (TF_WORK_ROOT as there).
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

. "$(dirname "${BASH_SOURCE[0]}")/../infrastructure/terraform/tools/tf-env.sh"

env_name=""
mode=patch
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --patch) mode=patch; shift ;;
    --runner-serviceaccount) mode=runner; shift ;;
    --samples) mode=samples; shift ;;
    --json) mode=json; shift ;;
    -*) usage >&2; tf_die "unknown option $1" ;;
    *) [[ -z "$env_name" ]] || tf_die "one environment only"; env_name="$1"; shift ;;
  esac
done
[[ -n "$env_name" ]] || { usage >&2; tf_die "which environment?"; }
tf_check_env "$env_name"
command -v terraform >/dev/null || tf_die "terraform is not installed"
command -v python3 >/dev/null || tf_die "python3 is needed to format the outputs"
tf_setup "$env_name"
[[ -d "$TF_DATA_DIR" ]] || tf_die "$env_name is not initialised: run scripts/terraform-init.sh $env_name first"

outputs="$(cd "$TF_ENV_DIR" && terraform output -json)"
[[ "$outputs" != "{}" ]] || tf_die "$env_name has no outputs: has it been applied (scripts/terraform-apply.sh $env_name)?"
if [[ $mode == json ]]; then
  echo "$outputs"
  exit 0
fi

OUTPUTS="$outputs" python3 - "$mode" "$env_name" <<'PY'
import json, os, sys

mode, env = sys.argv[1], sys.argv[2]
p = json.loads(os.environ["OUTPUTS"])["platform"]["value"]

def q(v):
    return json.dumps(v)  # a JSON string is a valid YAML scalar

if mode == "patch":
    print(f"# {env}: the operator's IRSA role (scripts/terraform-outputs.sh {env} --patch)")
    print("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: salespot-operator\n  annotations:")
    print(f"    eks.amazonaws.com/role-arn: {q(p['operator_role_arn'])}")
elif mode == "runner":
    for i, ns in enumerate(p["operator_namespaces"]):
        if i:
            print("---")
        print(f"# {env}: the backup and restore Jobs' identity in {ns}; bind the salespot-backup-runner ClusterRole to it")
        print("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: salespot-backup-runner")
        print(f"  namespace: {ns}\n  annotations:")
        print(f"    eks.amazonaws.com/role-arn: {q(p['backup_runner_role_arn'])}")
elif mode == "samples":
    print(f"# {env}: values for manifests/samples (scripts/terraform-outputs.sh {env} --samples)")
    print("backupPolicy:            # BackupPolicy spec.destination")
    print(f"  bucket: {q(p['backup_bucket'])}")
    print(f"  region: {q(p['backup_bucket_region'])}")
    print(f"  prefix: {q(p['backup_prefix'])}")
    print('  serverSideEncryption: "aws:kms"')
    print(f"  kmsKeyId: {q(p['backup_kms_key_arn'])}")
    print("drPolicy:                # DRPolicy spec")
    print(f"  dns:\n    zone: {q(p['dns_zone'])}\n    name: {q(p['dr_record_name'])}\n    type: {q(p['dr_record_type'])}")
    print(f"    route53:\n      hostedZoneId: {q(p['hosted_zone_id'])}")
    print(f"  primary:\n    value: {q(p['dr_primary_value'])}")
    print(f"  secondary:\n    value: {q(p['dr_secondary_value'])}")
    print(f"  failoverRecords: {q(p['failover_records'])}   # operator: the DRPolicy switches the record; route53: it must not")
    print("serviceAccounts:")
    print(f"  operatorRoleArn: {q(p['operator_role_arn'])}")
    print(f"  backupRunnerRoleArn: {q(p['backup_runner_role_arn'])}")
    print(f"  backupRunnerNamespaces: {q(p['operator_namespaces'])}")
PY
