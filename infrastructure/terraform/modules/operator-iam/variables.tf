variable "name" {
  description = "Name prefix; roles are <name>-operator and <name>-backup-runner."
  type        = string
}

variable "oidc_provider_arn" {
  description = "The cluster's IAM OIDC provider."
  type        = string
}

variable "oidc_issuer" {
  description = "The OIDC issuer without https:// (prefix of the :sub and :aud condition keys)."
  type        = string
}

variable "operator_service_account" {
  description = "namespace/name of the operator's ServiceAccount."
  type        = string
  default     = "salespot-system/salespot-operator"
  validation {
    condition     = can(regex("^[a-z0-9-]+/[a-z0-9-]+$", var.operator_service_account))
    error_message = "operator_service_account is namespace/name."
  }
}

variable "backup_namespaces" {
  description = "The namespaces whose BackupPolicies write to the bucket (the operator's --namespaces); each one's salespot-backup-runner may assume the runner role, and objects are scoped to <namespace>/ keys."
  type        = list(string)
  validation {
    condition     = length(var.backup_namespaces) > 0
    error_message = "Give at least one namespace."
  }
}

variable "backup_runner_service_account" {
  description = "The name of the ServiceAccount the backup and restore Jobs run as, in each backup namespace."
  type        = string
  default     = "salespot-backup-runner"
}

variable "backup_bucket_arn" {
  description = "The backup bucket."
  type        = string
}

variable "backup_prefix" {
  description = "BackupPolicy spec.destination.prefix (\"\" when unset: keys start with the namespace). With a trailing slash when set."
  type        = string
  default     = ""
  validation {
    condition     = var.backup_prefix == "" || endswith(var.backup_prefix, "/")
    error_message = "backup_prefix is empty or ends with /."
  }
}

variable "backup_kms_key_arn" {
  description = "The backup bucket's KMS key (objects written with SSE-KMS need GenerateDataKey, reads need Decrypt)."
  type        = string
}

variable "backup_bucket_region" {
  description = "The backup bucket's region (the kms:ViaService condition)."
  type        = string
}

variable "hosted_zone_id" {
  description = "The Route53 zone whose records the operator's DRPolicy switches."
  type        = string
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
