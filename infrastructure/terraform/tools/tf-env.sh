# Sourced by scripts/terraform-init.sh, terraform-apply.sh, terraform-outputs.sh and test-terraform.sh: where an
# environment's working data lives, and the Terraform CLI configuration (the provider filesystem mirror when the
# machine has one). Not executable on its own.
#
# Environment:
#   TF_WORK_ROOT      where each environment keeps its TF_DATA_DIR, local state, plans and run variables
#                     (default: ${XDG_STATE_HOME:-$HOME/.local/state}/salespot-terraform); never inside the repo.
#   TF_PLUGIN_MIRROR  a provider filesystem mirror (the directory that contains registry.terraform.io); default:
#                     searched for under /opt, /usr/local/share, /usr/share, /root, /var/lib. None found: the
#                     registry is used (needs network).

TF_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
TF_ROOT="$TF_REPO_ROOT/infrastructure/terraform"
TF_ENVIRONMENTS=(dev staging production)

tf_die() { echo "error: $*" >&2; exit 1; }

tf_check_env() {
  local env="${1:-}"
  [[ -n "$env" ]] || return 1
  local e
  for e in "${TF_ENVIRONMENTS[@]}"; do [[ "$e" == "$env" ]] && return 0; done
  tf_die "unknown environment '$env' (one of: ${TF_ENVIRONMENTS[*]})"
}

# The directory holding registry.terraform.io/hashicorp/aws/..., or nothing.
tf_find_mirror() {
  if [[ -n "${TF_PLUGIN_MIRROR:-}" ]]; then
    [[ -d "$TF_PLUGIN_MIRROR/registry.terraform.io" ]] || tf_die "TF_PLUGIN_MIRROR=$TF_PLUGIN_MIRROR has no registry.terraform.io directory"
    echo "$TF_PLUGIN_MIRROR"
    return 0
  fi
  local base found
  for base in /opt /usr/local/share /usr/share /root/.terraform.d /root /var/lib; do
    [[ -d "$base" ]] || continue
    found="$(find "$base" -maxdepth 5 -type d -name registry.terraform.io -path '*registry.terraform.io' 2>/dev/null \
      | while read -r d; do [[ -d "$d/hashicorp/aws" ]] && { echo "$d"; break; }; done)"
    if [[ -n "$found" ]]; then
      dirname "$found"
      return 0
    fi
  done
  return 0
}

# Sets TF_WORK_DIR, TF_DATA_DIR, TF_CLI_CONFIG_FILE (and TF_IN_AUTOMATION without a terminal) for environment $1.
tf_setup() {
  local env="$1"
  TF_ENV_DIR="$TF_ROOT/environments/$env"
  [[ -d "$TF_ENV_DIR" ]] || tf_die "no environment directory $TF_ENV_DIR"
  local root="${TF_WORK_ROOT:-${XDG_STATE_HOME:-$HOME/.local/state}/salespot-terraform}"
  case "$root" in "$TF_REPO_ROOT"/*) tf_die "TF_WORK_ROOT ($root) must be outside the repository" ;; esac
  TF_WORK_DIR="$root/$env"
  mkdir -p "$TF_WORK_DIR"
  export TF_DATA_DIR="$TF_WORK_DIR/data"
  TF_STATE_FILE="$TF_WORK_DIR/terraform.tfstate"
  TF_RUN_VARS="$TF_WORK_DIR/run.tfvars"
  TF_PLAN_FILE="$TF_WORK_DIR/$env.tfplan"
  local mirror
  mirror="$(tf_find_mirror)"
  TF_MIRROR="$mirror"
  if [[ -n "$mirror" ]]; then
    export TF_CLI_CONFIG_FILE="$TF_WORK_DIR/terraformrc"
    cat > "$TF_CLI_CONFIG_FILE" <<CFG
# Written by infrastructure/terraform/tools/tf-env.sh: providers from the offline mirror only.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/*/*"]
  }
  direct {
    exclude = ["registry.terraform.io/*/*"]
  }
}
CFG
  fi
  [[ -t 0 ]] || export TF_IN_AUTOMATION=1
  export TF_INPUT=0
}
