# The original design's monitoring.tf: CloudWatch alarms, SNS topics and e-mail alerts, the dashboard, billing.
module "monitoring" {
  source = "./modules/monitoring"
  providers = {
    aws        = aws
    aws.global = aws.global
  }
  name                      = local.name
  environment               = var.environment
  alert_emails              = var.alert_emails
  enable_dr_alerts          = var.enable_dr_alerts
  dr_alert_emails           = var.dr_alert_emails
  alert_https_endpoints     = var.alert_https_endpoints
  cluster_name              = module.cluster.cluster_name
  api_namespace             = var.operator_namespaces[0]
  db_instance_identifier    = module.database.instance_identifier
  alb_arn_suffix            = module.edge.alb_arn_suffix
  health_check_id           = module.dns.primary_health_check_id
  rds_connections_threshold = var.rds_connections_threshold
  billing_threshold_usd     = var.billing_threshold_usd
  enable_billing_alarm      = var.enable_billing_alarm
  enable_budget             = var.enable_budget
  tags                      = local.tags
}
