# Production's own variables, besides the common ones (../_common/variables.tf).

variable "dr_alert_emails" {
  description = "DR alert e-mail addresses (production only)."
  type        = list(string)
  default     = ["dr-alerts@salespot.by"]
}
