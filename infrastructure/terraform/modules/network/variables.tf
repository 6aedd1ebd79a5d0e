variable "name" {
  description = "Name prefix of every resource (e.g. salespot-dev)."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's IPv4 CIDR block; split into public, private and data subnets (a /20 each from a /16)."
  type        = string
  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 18
    error_message = "cidr_block must be a valid IPv4 CIDR of /18 or larger."
  }
}

variable "availability_zones" {
  description = "The availability zones to spread subnets over (2 or 3)."
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4
    error_message = "Give 2 to 4 availability zones (EKS and RDS subnet groups need at least 2)."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the whole VPC (dev, staging: cheaper) instead of one per availability zone (production: an AZ outage does not cut the other zones' egress)."
  type        = bool
}

variable "cluster_name" {
  description = "The EKS cluster's name, for the kubernetes.io/cluster/<name> subnet tags the load balancer controller looks for."
  type        = string
}

variable "flow_log_retention_days" {
  description = "Days to keep VPC flow logs in CloudWatch Logs."
  type        = number
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "tags" {
  description = "Extra tags for every resource (the provider's default_tags add the common ones)."
  type        = map(string)
  default     = {}
}
