variable "name" {
  description = "Name prefix; the load balancer is <name>-alb (at most 32 characters)."
  type        = string
  validation {
    condition     = length(var.name) <= 28
    error_message = "name must be at most 28 characters (ALB and target group names are limited to 32)."
  }
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets for the internet-facing ALB."
  type        = list(string)
}

variable "node_security_group_id" {
  description = "The EKS nodes' security group: the ALB may reach only them, and only on target_port."
  type        = string
}

variable "target_port" {
  description = "The port the ALB forwards to on the pods (an ip target group registers the pod's port: the API Service's targetPort, 3000 in manifests/samples/bluegreen-api.yaml)."
  type        = number
  default     = 3000
}

variable "health_check_path" {
  description = "The target group's health check path."
  type        = string
  default     = "/health"
}

variable "ingress_cidrs" {
  description = "Who may reach the ALB on 80/443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "domain_name" {
  description = "The certificate's primary name (e.g. app.salespot.by)."
  type        = string
}

variable "subject_alternative_names" {
  description = "Other names on the certificate (e.g. the regional name eu-west-1.salespot.by)."
  type        = list(string)
  default     = []
}

variable "zone_id" {
  description = "The Route53 zone the DNS validation records go to."
  type        = string
}

variable "wait_for_certificate_validation" {
  description = "Wait until ACM has issued the certificate (aws_acm_certificate_validation) before the HTTPS listener uses it."
  type        = bool
  default     = true
}

variable "logs_bucket_name" {
  description = "The S3 bucket for access logs (SSE-S3, with the ELB delivery policy)."
  type        = string
}

variable "logs_bucket_policy_id" {
  description = "The logs bucket's policy id: the ALB waits for it (access logs are checked when enabled)."
  type        = string
}

variable "deletion_protection" {
  description = "ALB deletion protection (production)."
  type        = bool
}

variable "enable_waf" {
  description = "Create the WAFv2 web ACL (AWS managed rule groups and a per-IP rate limit)."
  type        = bool
  default     = true
}

variable "enable_waf_association" {
  description = "Associate the web ACL with the ALB."
  type        = bool
  default     = true
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes per client IP before the rate rule blocks."
  type        = number
  default     = 2000
  validation {
    condition     = var.waf_rate_limit >= 100
    error_message = "WAF rate limits start at 100."
  }
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
