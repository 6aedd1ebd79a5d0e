variable "name" {
  description = "Name prefix; the replication group is <name>-redis."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "subnet_ids" {
  description = "Data subnets for the cache subnet group."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect on 6379 (the EKS nodes')."
  type        = list(string)
}

variable "engine_version" {
  description = "Redis OSS engine version; always set (the provider cannot read a version back when none was given)."
  type        = string
  default     = "7.1"
  validation {
    condition     = can(regex("^[67]\\.[0-9x]+$", var.engine_version))
    error_message = "engine_version is a Redis 6.x or 7.x version, e.g. 7.1."
  }
}

variable "node_type" {
  description = "Cache node type (e.g. cache.t4g.micro)."
  type        = string
}

variable "num_cache_clusters" {
  description = "Nodes in the replication group: 1 (no replica) or more (a primary and replicas, automatic failover)."
  type        = number
  validation {
    condition     = var.num_cache_clusters >= 1 && var.num_cache_clusters <= 6
    error_message = "num_cache_clusters must be 1 to 6."
  }
}

variable "multi_az" {
  description = "Replicas in other zones with automatic failover (needs num_cache_clusters >= 2)."
  type        = bool
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots (0: none)."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
