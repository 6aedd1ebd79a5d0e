# --- Identity ----------------------------------------------------------------------------------------------------

variable "project" {
  description = "Project name, the first part of every resource name."
  type        = string
  default     = "salespot"
}

variable "environment" {
  description = "dev, staging or production."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be dev, staging or production."
  }
}

variable "tags" {
  description = "Extra tags on every resource (the roots' provider default_tags add Project, Environment, ManagedBy)."
  type        = map(string)
  default     = {}
}

# --- Network -----------------------------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "The VPC's CIDR block (a /16: distinct per environment so VPCs can be peered)."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones of the primary region to use."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway (dev, staging) or one per zone (production)."
  type        = bool
}

variable "flow_log_retention_days" {
  description = "VPC flow log retention (days)."
  type        = number
  default     = 30
}

# --- Cluster -----------------------------------------------------------------------------------------------------

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.31"
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to the EKS API's public endpoint; empty: private endpoint only."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Node instance types."
  type        = list(string)
}

variable "node_capacity_type" {
  description = "SPOT (dev, staging) or ON_DEMAND (production)."
  type        = string
}

variable "node_min_size" {
  description = "Minimum nodes."
  type        = number
}

variable "node_desired_size" {
  description = "Initial nodes."
  type        = number
}

variable "node_max_size" {
  description = "Maximum nodes."
  type        = number
}

variable "oidc_thumbprints" {
  description = "Thumbprints for the IAM OIDC provider of the cluster."
  type        = list(string)
  default     = ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
}

# --- Data --------------------------------------------------------------------------------------------------------

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "db_allocated_storage_gb" {
  description = "RDS initial storage (GB)."
  type        = number
}

variable "db_max_allocated_storage_gb" {
  description = "RDS storage autoscaling ceiling (GB, 0: off)."
  type        = number
}

variable "db_backup_retention_days" {
  description = "RDS automated backup retention (days)."
  type        = number
}

variable "db_performance_insights" {
  description = "RDS Performance Insights."
  type        = bool
  default     = false
}

variable "multi_az" {
  description = "Multi-AZ RDS and ElastiCache (production)."
  type        = bool
}

variable "deletion_protection" {
  description = "Deletion protection of RDS and the ALB, and a final RDS snapshot (production)."
  type        = bool
}

variable "cache_node_type" {
  description = "ElastiCache node type."
  type        = string
}

variable "cache_num_nodes" {
  description = "ElastiCache nodes (primary + replicas)."
  type        = number
}

variable "cache_engine_version" {
  description = "Redis engine version (always explicit)."
  type        = string
  default     = "7.1"
}

# --- Storage -----------------------------------------------------------------------------------------------------

variable "bucket_suffix" {
  description = "Appended to bucket names to make them globally unique (default: the account id)."
  type        = string
  default     = ""
}

variable "force_destroy_buckets" {
  description = "Let destroy empty the buckets and the zone (dev)."
  type        = bool
  default     = false
}

variable "backup_expiration_days" {
  description = "Backstop expiry of backups (the operator's retention deletes sooner)."
  type        = number
  default     = 400
}

variable "logs_expiration_days" {
  description = "ALB access log retention (days)."
  type        = number
  default     = 90
}

# --- DNS, DR -----------------------------------------------------------------------------------------------------

variable "zone_name" {
  description = "The environment's Route53 zone (salespot.by in production)."
  type        = string
}

variable "secondary_endpoint" {
  description = "DNS name of the DR site's entry in the secondary region; empty: none yet."
  type        = string
  default     = ""
}

variable "failover_records" {
  description = "operator (the DRPolicy switches app.<zone>) or route53 (Route53 failover routing)."
  type        = string
  default     = "operator"
}

# --- Operator ----------------------------------------------------------------------------------------------------

variable "operator_namespaces" {
  description = "The namespaces the operator watches (its --namespaces): their backup runners get the bucket's <namespace>/ keys."
  type        = list(string)
}

variable "backup_prefix" {
  description = "BackupPolicy spec.destination.prefix, ending in / (the operator's default, when a policy sets none, is backups/; \"\": keys at the bucket's root)."
  type        = string
  default     = "backups/"
}

# --- Monitoring --------------------------------------------------------------------------------------------------

variable "alert_emails" {
  description = "Alert e-mail addresses."
  type        = list(string)
  default     = ["alerts@salespot.by"]
}

variable "enable_dr_alerts" {
  description = "The DR alerts topic (production)."
  type        = bool
  default     = false
}

variable "dr_alert_emails" {
  description = "DR alert e-mail addresses."
  type        = list(string)
  default     = ["dr-alerts@salespot.by"]
}

variable "alert_https_endpoints" {
  description = "HTTPS endpoints (Slack/Telegram relays) subscribed to the alerts topic."
  type        = list(string)
  default     = []
}

variable "rds_connections_threshold" {
  description = "RDS High Connections threshold."
  type        = number
}

variable "billing_threshold_usd" {
  description = "Monthly cost (USD) for the billing alarm and budget."
  type        = number
}

# --- Emulator gates: true on AWS; tests/emulator.tfvars turns off what moto cannot do -------------------------------

variable "enable_container_insights" {
  description = "The amazon-cloudwatch-observability EKS add-on (moto has no EKS add-on API)."
  type        = bool
  default     = true
}

variable "enable_waf_association" {
  description = "Associate the WAFv2 web ACL with the ALB."
  type        = bool
  default     = true
}

variable "wait_for_certificate_validation" {
  description = "Wait for ACM to issue the certificate before the HTTPS listener uses it."
  type        = bool
  default     = true
}

variable "enable_backup_replication" {
  description = "Cross-region replication of the backup bucket."
  type        = bool
  default     = true
}

variable "enable_budget" {
  description = "The AWS Budgets budget."
  type        = bool
  default     = true
}

variable "enable_billing_alarm" {
  description = "The AWS/Billing alarm."
  type        = bool
  default     = true
}
