variable "name" {
  description = "Name prefix (e.g. salespot-dev); alarm names are \"<name> <Alarm>\"."
  type        = string
}

variable "environment" {
  description = "dev, staging or production (in alarm descriptions)."
  type        = string
}

variable "alert_emails" {
  description = "Addresses subscribed to the alerts topics (the original design: alerts@salespot.by)."
  type        = list(string)
  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be e-mail addresses."
  }
}

variable "enable_dr_alerts" {
  description = "A separate DR alerts topic and its subscriptions (production only in the original design)."
  type        = bool
  default     = false
}

variable "dr_alert_emails" {
  description = "Addresses subscribed to the DR alerts topic (dr-alerts@salespot.by)."
  type        = list(string)
  default     = []
}

variable "alert_https_endpoints" {
  description = "HTTPS endpoints (a Slack or Telegram relay) subscribed to the alerts topics."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for u in var.alert_https_endpoints : startswith(u, "https://")])
    error_message = "alert_https_endpoints must be https:// URLs."
  }
}

variable "cluster_name" {
  description = "The EKS cluster (Container Insights ClusterName dimension)."
  type        = string
}

variable "api_namespace" {
  description = "The namespace of the API workload (Container Insights Namespace dimension)."
  type        = string
}

variable "api_service" {
  description = "The API's Kubernetes Service (Container Insights Service dimension): the active Service of its BlueGreenDeployment (manifests/samples/bluegreen-api.yaml: api)."
  type        = string
  default     = "api"
}

variable "db_instance_identifier" {
  description = "The RDS instance (DBInstanceIdentifier dimension)."
  type        = string
}

variable "alb_arn_suffix" {
  description = "The ALB's ARN suffix (LoadBalancer dimension)."
  type        = string
}

variable "health_check_id" {
  description = "The Route53 health check of the primary (HealthCheckId dimension; the metric lives in us-east-1)."
  type        = string
}

variable "api_cpu_threshold" {
  description = "API High CPU: average pod CPU utilisation (% of the limit) above which it fires."
  type        = number
  default     = 80
}

variable "api_memory_threshold" {
  description = "API High Memory: average pod memory utilisation (% of the limit) above which it fires."
  type        = number
  default     = 85
}

variable "rds_cpu_threshold" {
  description = "RDS High CPU: CPUUtilization (%) above which it fires."
  type        = number
  default     = 80
}

variable "rds_connections_threshold" {
  description = "RDS High Connections: DatabaseConnections above which it fires (about 80% of max_connections of the class)."
  type        = number
}

variable "alb_5xx_threshold" {
  description = "ALB High 5XX: 5XX responses (ELB and targets) per 5 minutes above which it fires."
  type        = number
  default     = 50
}

variable "enable_billing_alarm" {
  description = "The AWS/Billing EstimatedCharges alarm (us-east-1; needs \"Receive billing alerts\" on the account)."
  type        = bool
  default     = true
}

variable "billing_threshold_usd" {
  description = "Estimated monthly charges (USD) above which the billing alarm fires; also the budget's limit."
  type        = number
}

variable "enable_budget" {
  description = "An AWS Budgets monthly cost budget with e-mail notifications at 80% actual and 100% forecast."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
