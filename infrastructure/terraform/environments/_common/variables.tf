# What a run may change without editing this environment: the endpoint, regions, contacts, DR peer, and the
# emulator gates. The environment's sizes are in main.tf (locals).

variable "aws_endpoint" {
  description = "An AWS emulator's URL (moto server) for every service; empty (default): real AWS."
  type        = string
  default     = ""
  validation {
    condition     = var.aws_endpoint == "" || can(regex("^https?://", var.aws_endpoint))
    error_message = "aws_endpoint is empty or an http(s) URL."
  }
}

variable "primary_region" {
  description = "The primary region of the DR pair."
  type        = string
  default     = "eu-west-1"
}

variable "secondary_region" {
  description = "The secondary region of the DR pair (the backup bucket lives there)."
  type        = string
  default     = "eu-central-1"
}

variable "alert_emails" {
  description = "Alert e-mail addresses."
  type        = list(string)
  default     = ["alerts@salespot.by"]
}

variable "secondary_endpoint" {
  description = "DNS name of the DR site's entry in the secondary region (its ALB); empty: none yet."
  type        = string
  default     = ""
}

variable "failover_records" {
  description = "operator (DRPolicy switches the app record) or route53 (Route53 failover routing)."
  type        = string
  default     = "operator"
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to the EKS API's public endpoint; empty: private only."
  type        = list(string)
  default     = []
}

variable "bucket_suffix" {
  description = "Suffix for globally unique bucket names (default: the account id)."
  type        = string
  default     = ""
}

variable "enable_container_insights" {
  description = "Emulator gate: the Container Insights EKS add-on."
  type        = bool
  default     = true
}

variable "enable_waf_association" {
  description = "Emulator gate: the WAFv2 web ACL association with the ALB."
  type        = bool
  default     = true
}

variable "wait_for_certificate_validation" {
  description = "Emulator gate: wait for the ACM certificate to be issued."
  type        = bool
  default     = true
}

variable "enable_backup_replication" {
  description = "Emulator gate: cross-region replication of the backup bucket."
  type        = bool
  default     = true
}

variable "enable_budget" {
  description = "Emulator gate: the AWS Budgets budget."
  type        = bool
  default     = true
}

variable "enable_billing_alarm" {
  description = "Emulator gate: the AWS/Billing alarm."
  type        = bool
  default     = true
}
