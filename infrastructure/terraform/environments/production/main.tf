# production: three zones with a NAT gateway each, on-demand nodes, Multi-AZ PostgreSQL (larger, Performance
# Insights, 30 days of PITR) and Redis (primary and two replicas, automatic failover), deletion protection on RDS
# and the ALB (and a final snapshot), and the DR alerts topic with dr-alerts@salespot.by.

locals {
  environment = "production"
}

module "platform" {
  source = "../.."
  providers = {
    aws           = aws
    aws.secondary = aws.secondary
    aws.global    = aws.global
  }

  environment = local.environment

  vpc_cidr                = "10.30.0.0/16"
  availability_zones      = ["${var.primary_region}a", "${var.primary_region}b", "${var.primary_region}c"]
  single_nat_gateway      = false
  flow_log_retention_days = 90

  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  node_instance_types          = ["m6i.xlarge"]
  node_capacity_type           = "ON_DEMAND"
  node_min_size                = 3
  node_desired_size            = 3
  node_max_size                = 9

  db_instance_class           = "db.r6g.large"
  db_allocated_storage_gb     = 100
  db_max_allocated_storage_gb = 1000
  db_backup_retention_days    = 30
  db_performance_insights     = true
  multi_az                    = true
  deletion_protection         = true
  cache_node_type             = "cache.r6g.large"
  cache_num_nodes             = 3

  bucket_suffix          = var.bucket_suffix
  force_destroy_buckets  = false
  backup_expiration_days = 400
  logs_expiration_days   = 90

  zone_name           = "salespot.by"
  secondary_endpoint  = var.secondary_endpoint
  failover_records    = var.failover_records
  operator_namespaces = ["salespot"]

  alert_emails              = var.alert_emails
  enable_dr_alerts          = true
  dr_alert_emails           = var.dr_alert_emails
  rds_connections_threshold = 400
  billing_threshold_usd     = 3000

  enable_container_insights       = var.enable_container_insights
  enable_waf_association          = var.enable_waf_association
  wait_for_certificate_validation = var.wait_for_certificate_validation
  enable_backup_replication       = var.enable_backup_replication
  enable_budget                   = var.enable_budget
  enable_billing_alarm            = var.enable_billing_alarm
}
