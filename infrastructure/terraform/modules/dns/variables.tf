variable "zone_name" {
  description = "The hosted zone (e.g. salespot.by, dev.salespot.by)."
  type        = string
}

variable "force_destroy" {
  description = "Let destroy delete the zone with records Terraform does not manage (dev)."
  type        = bool
  default     = false
}

variable "app_record_name" {
  description = "The label of the record clients use and DR switches (app -> app.<zone>)."
  type        = string
  default     = "app"
}

variable "primary_region" {
  description = "The primary region: its regional record <region>.<zone> aliases the primary ALB."
  type        = string
}

variable "secondary_region" {
  description = "The secondary region: its regional record <region>.<zone> points at secondary_endpoint."
  type        = string
}

variable "primary_alb_dns_name" {
  description = "The primary ALB's DNS name."
  type        = string
}

variable "primary_alb_zone_id" {
  description = "The primary ALB's canonical hosted zone id."
  type        = string
}

variable "secondary_endpoint" {
  description = "The DNS name of the secondary site's entry (its ALB in the secondary region); empty: no secondary record yet."
  type        = string
  default     = ""
}

variable "health_check_path" {
  description = "Path of the primary's HTTPS health check (the DRPolicy probes the same URL)."
  type        = string
  default     = "/health"
}

variable "health_check_interval" {
  description = "Seconds between Route53 health checks (10 or 30); the DRPolicy sample uses 10."
  type        = number
  default     = 10
  validation {
    condition     = contains([10, 30], var.health_check_interval)
    error_message = "Route53 health checks run every 10 or 30 seconds."
  }
}

variable "health_check_failure_threshold" {
  description = "Consecutive failures before the primary counts as unhealthy (the DRPolicy sample uses 3)."
  type        = number
  default     = 3
}

variable "failover_records" {
  description = <<-EOT
    Who fails the app record over. "operator" (default): one CNAME app.<zone> -> <primary-region>.<zone>, which the
    operator's DRPolicy (dns.route53) switches to <secondary-region>.<zone>; Terraform creates it and then ignores
    its value, so an apply never undoes a failover. "route53": Route53 failover routing (PRIMARY alias to the ALB
    with the health check, SECONDARY to the secondary); then no DRPolicy may manage app.<zone>.
  EOT
  type        = string
  default     = "operator"
  validation {
    condition     = contains(["operator", "route53"], var.failover_records)
    error_message = "failover_records must be operator or route53."
  }
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
