variable "name" {
  description = "Name prefix (e.g. salespot-dev)."
  type        = string
}

variable "backup_bucket_name" {
  description = "The backup bucket (BackupPolicy spec.destination.bucket); created in the aws.backup provider's region."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.backup_bucket_name))
    error_message = "Not a valid S3 bucket name."
  }
}

variable "backup_replica_bucket_name" {
  description = "The replica of the backup bucket, in the primary region (the other region of the DR pair)."
  type        = string
}

variable "logs_bucket_name" {
  description = "The bucket for ALB access logs, in the primary region."
  type        = string
}

variable "enable_replication" {
  description = "Replicate the backup bucket to the replica bucket (cross-region, KMS re-encrypted). The replica bucket is created either way."
  type        = bool
  default     = true
}

variable "backup_transition_ia_days" {
  description = "Days before backup objects move to STANDARD_IA."
  type        = number
  default     = 30
}

variable "backup_transition_glacier_ir_days" {
  description = "Days before backup objects move to GLACIER_IR (Glacier Instant Retrieval: still readable by a plain GetObject, which the operator's restore uses)."
  type        = number
  default     = 90
}

variable "backup_expiration_days" {
  description = "Backstop expiry of backup objects (the operator's retention deletes earlier)."
  type        = number
  default     = 400
  validation {
    condition     = var.backup_expiration_days > 90
    error_message = "backup_expiration_days must be more than the GLACIER_IR minimum storage duration (90 days)."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days to keep overwritten or deleted object versions (protection against a mistaken delete)."
  type        = number
  default     = 30
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 7
}

variable "logs_expiration_days" {
  description = "Days to keep access logs."
  type        = number
  default     = 90
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
