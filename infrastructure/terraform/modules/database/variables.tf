variable "name" {
  description = "Name prefix; the instance is <name>-postgres."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "subnet_ids" {
  description = "Data subnets for the DB subnet group (at least two zones)."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (the EKS nodes'); nothing else is."
  type        = list(string)
}

variable "engine_version" {
  description = "PostgreSQL version (major, or major.minor)."
  type        = string
  default     = "15"
  validation {
    condition     = can(regex("^15(\\.[0-9]+)?$", var.engine_version))
    error_message = "The platform runs PostgreSQL 15 (the parameter group family is postgres15)."
  }
}

variable "instance_class" {
  description = "The DB instance class (e.g. db.t4g.micro in dev, db.r6g.large in production)."
  type        = string
}

variable "allocated_storage_gb" {
  description = "Initial gp3 storage."
  type        = number
}

variable "max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling (0: off)."
  type        = number
}

variable "multi_az" {
  description = "A synchronous standby in another zone (production)."
  type        = bool
}

variable "deletion_protection" {
  description = "Refuse deletion (production). Also decides the final snapshot: taken when protected."
  type        = bool
}

variable "backup_retention_days" {
  description = "Automated backup (PITR) retention in days."
  type        = number
  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be 1 to 35."
  }
}

variable "performance_insights_enabled" {
  description = "Performance Insights (encrypted with this module's key)."
  type        = bool
  default     = false
}

variable "database_name" {
  description = "The initial database."
  type        = string
  default     = "salespot"
}

variable "master_username" {
  description = "The master user; its password is generated and kept by RDS in Secrets Manager."
  type        = string
  default     = "salespot_admin"
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
