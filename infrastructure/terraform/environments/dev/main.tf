# dev: small and cheap. Two zones, one NAT gateway, spot nodes, single-AZ PostgreSQL and Redis, no deletion
# protection (buckets and zone emptied on destroy), no DR alert topic.

locals {
  environment = "dev"
}

module "platform" {
  source = "../.."
  providers = {
    aws           = aws
    aws.secondary = aws.secondary
    aws.global    = aws.global
  }

  environment = local.environment

  vpc_cidr                = "10.10.0.0/16"
  availability_zones      = ["${var.primary_region}a", "${var.primary_region}b"]
  single_nat_gateway      = true
  flow_log_retention_days = 7

  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  node_instance_types          = ["t3.large", "t3a.large", "m5.large"]
  node_capacity_type           = "SPOT"
  node_min_size                = 1
  node_desired_size            = 2
  node_max_size                = 3

  db_instance_class           = "db.t4g.micro"
  db_allocated_storage_gb     = 20
  db_max_allocated_storage_gb = 50
  db_backup_retention_days    = 1
  multi_az                    = false
  deletion_protection         = false
  cache_node_type             = "cache.t4g.micro"
  cache_num_nodes             = 1

  bucket_suffix          = var.bucket_suffix
  force_destroy_buckets  = true
  backup_expiration_days = 120
  logs_expiration_days   = 30

  zone_name           = "dev.salespot.by"
  secondary_endpoint  = var.secondary_endpoint
  failover_records    = var.failover_records
  operator_namespaces = ["salespot-dev"]

  alert_emails              = var.alert_emails
  enable_dr_alerts          = false
  rds_connections_threshold = 60
  billing_threshold_usd     = 300

  enable_container_insights       = var.enable_container_insights
  enable_waf_association          = var.enable_waf_association
  wait_for_certificate_validation = var.wait_for_certificate_validation
  enable_backup_replication       = var.enable_backup_replication
  enable_budget                   = var.enable_budget
  enable_billing_alarm            = var.enable_billing_alarm
}
