variable "name" {
  description = "The EKS cluster's name."
  type        = string
}

variable "kubernetes_version" {
  description = "The Kubernetes minor version of the control plane (e.g. 1.31)."
  type        = string
  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version is a minor version such as 1.31."
  }
}

variable "vpc_id" {
  description = "The VPC the cluster runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the control plane's network interfaces and the nodes."
  type        = list(string)
}

variable "endpoint_public_access_cidrs" {
  description = "CIDR blocks allowed to reach the API server's public endpoint; empty: the endpoint is private only (reach it through a VPN or bastion)."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Instance types of the managed node group (several for spot: more pools, fewer interruptions)."
  type        = list(string)
}

variable "capacity_type" {
  description = "ON_DEMAND or SPOT for the managed node group."
  type        = string
  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.capacity_type)
    error_message = "capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "node_min_size" {
  description = "Minimum nodes."
  type        = number
}

variable "node_desired_size" {
  description = "Nodes at creation (the cluster autoscaler changes it afterwards; Terraform ignores the drift)."
  type        = number
}

variable "node_max_size" {
  description = "Maximum nodes."
  type        = number
  validation {
    condition     = var.node_max_size >= 1
    error_message = "node_max_size must be at least 1."
  }
}

variable "node_disk_size_gb" {
  description = "Root EBS volume size of each node (gp3, encrypted with this module's KMS key)."
  type        = number
  default     = 50
}

variable "cluster_log_types" {
  description = "Control-plane log types sent to CloudWatch Logs."
  type        = list(string)
  default     = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
}

variable "log_retention_days" {
  description = "Days to keep the control-plane logs."
  type        = number
  default     = 30
}

variable "logs_kms_key_arn" {
  description = "KMS key for the control-plane log group (its policy lets CloudWatch Logs use it)."
  type        = string
}

variable "oidc_thumbprints" {
  description = "SHA-1 thumbprints of the OIDC issuer's root CA for the IAM OIDC provider (AWS no longer checks them for EKS issuers, but the API still takes a list)."
  type        = list(string)
  default     = ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
}

variable "enable_container_insights" {
  description = "Install the amazon-cloudwatch-observability add-on (Container Insights: the pod CPU and memory metrics the API alarms watch). Emulator gate: moto has no EKS add-on API."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
