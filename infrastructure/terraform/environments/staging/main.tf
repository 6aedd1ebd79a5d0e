# staging: production's shape at a smaller size. Three zones, one NAT gateway, spot nodes, single-AZ PostgreSQL,
# Redis with a replica, no deletion protection, no DR alert topic.

locals {
  environment = "staging"
}

module "platform" {
  source = "../.."
  providers = {
    aws           = aws
    aws.secondary = aws.secondary
    aws.global    = aws.global
  }

  environment = local.environment

  vpc_cidr                = "10.20.0.0/16"
  availability_zones      = ["${var.primary_region}a", "${var.primary_region}b", "${var.primary_region}c"]
  single_nat_gateway      = true
  flow_log_retention_days = 14

  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  node_instance_types          = ["m5.large", "m5a.large", "m6i.large"]
  node_capacity_type           = "SPOT"
  node_min_size                = 2
  node_desired_size            = 2
  node_max_size                = 4

  db_instance_class           = "db.t4g.medium"
  db_allocated_storage_gb     = 50
  db_max_allocated_storage_gb = 200
  db_backup_retention_days    = 7
  multi_az                    = false
  deletion_protection         = false
  cache_node_type             = "cache.t4g.small"
  cache_num_nodes             = 2

  bucket_suffix          = var.bucket_suffix
  force_destroy_buckets  = false
  backup_expiration_days = 200
  logs_expiration_days   = 60

  zone_name           = "staging.salespot.by"
  secondary_endpoint  = var.secondary_endpoint
  failover_records    = var.failover_records
  operator_namespaces = ["salespot-staging"]

  alert_emails              = var.alert_emails
  enable_dr_alerts          = false
  rds_connections_threshold = 120
  billing_threshold_usd     = 800

  enable_container_insights       = var.enable_container_insights
  enable_waf_association          = var.enable_waf_association
  wait_for_certificate_validation = var.wait_for_certificate_validation
  enable_backup_replication       = var.enable_backup_replication
  enable_budget                   = var.enable_budget
  enable_billing_alarm            = var.enable_billing_alarm
}
