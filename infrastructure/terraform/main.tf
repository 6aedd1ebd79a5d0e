# The platform of one environment: network, EKS, PostgreSQL, Redis, the ALB with WAF and its certificate, S3 for
# backups and logs, Route53, and the operator's IRSA roles. Monitoring is in monitoring.tf.

data "aws_caller_identity" "current" {}
data "aws_region" "primary" {}
data "aws_region" "secondary" {
  provider = aws.secondary
}

locals {
  name          = "${var.project}-${var.environment}"
  bucket_suffix = var.bucket_suffix != "" ? var.bucket_suffix : data.aws_caller_identity.current.account_id
  tags          = var.tags
}

# Every new EBS volume of the region encrypted (with the AWS-managed aws/ebs key unless a volume names another key;
# the nodes' launch template names the cluster's own key).
resource "aws_ebs_encryption_by_default" "this" {
  enabled = true
}

module "network" {
  source                  = "./modules/network"
  name                    = local.name
  cidr_block              = var.vpc_cidr
  availability_zones      = var.availability_zones
  single_nat_gateway      = var.single_nat_gateway
  cluster_name            = local.name
  flow_log_retention_days = var.flow_log_retention_days
  tags                    = local.tags
}

module "cluster" {
  source                       = "./modules/cluster"
  name                         = local.name
  kubernetes_version           = var.kubernetes_version
  vpc_id                       = module.network.vpc_id
  subnet_ids                   = module.network.private_subnet_ids
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  node_instance_types          = var.node_instance_types
  capacity_type                = var.node_capacity_type
  node_min_size                = var.node_min_size
  node_desired_size            = var.node_desired_size
  node_max_size                = var.node_max_size
  logs_kms_key_arn             = module.network.logs_kms_key_arn
  oidc_thumbprints             = var.oidc_thumbprints
  enable_container_insights    = var.enable_container_insights
  tags                         = local.tags
}

module "database" {
  source                       = "./modules/database"
  name                         = local.name
  vpc_id                       = module.network.vpc_id
  subnet_ids                   = module.network.data_subnet_ids
  client_security_group_ids    = [module.cluster.node_security_group_id]
  instance_class               = var.db_instance_class
  allocated_storage_gb         = var.db_allocated_storage_gb
  max_allocated_storage_gb     = var.db_max_allocated_storage_gb
  multi_az                     = var.multi_az
  deletion_protection          = var.deletion_protection
  backup_retention_days        = var.db_backup_retention_days
  performance_insights_enabled = var.db_performance_insights
  tags                         = local.tags
}

module "cache" {
  source                    = "./modules/cache"
  name                      = local.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.data_subnet_ids
  client_security_group_ids = [module.cluster.node_security_group_id]
  engine_version            = var.cache_engine_version
  node_type                 = var.cache_node_type
  num_cache_clusters        = var.cache_num_nodes
  multi_az                  = var.multi_az
  tags                      = local.tags
}

module "storage" {
  source = "./modules/storage"
  providers = {
    aws        = aws
    aws.backup = aws.secondary
  }
  name                       = local.name
  backup_bucket_name         = "${local.name}-backups-${local.bucket_suffix}"
  backup_replica_bucket_name = "${local.name}-backups-replica-${local.bucket_suffix}"
  logs_bucket_name           = "${local.name}-logs-${local.bucket_suffix}"
  enable_replication         = var.enable_backup_replication
  backup_expiration_days     = var.backup_expiration_days
  logs_expiration_days       = var.logs_expiration_days
  force_destroy              = var.force_destroy_buckets
  tags                       = local.tags
}

module "dns" {
  source               = "./modules/dns"
  zone_name            = var.zone_name
  force_destroy        = var.force_destroy_buckets
  primary_region       = data.aws_region.primary.name
  secondary_region     = data.aws_region.secondary.name
  primary_alb_dns_name = module.edge.alb_dns_name
  primary_alb_zone_id  = module.edge.alb_zone_id
  secondary_endpoint   = var.secondary_endpoint
  failover_records     = var.failover_records
  tags                 = local.tags
}

module "edge" {
  source                          = "./modules/edge"
  name                            = local.name
  vpc_id                          = module.network.vpc_id
  public_subnet_ids               = module.network.public_subnet_ids
  node_security_group_id          = module.cluster.node_security_group_id
  domain_name                     = "app.${trimsuffix(var.zone_name, ".")}"
  subject_alternative_names       = ["${data.aws_region.primary.name}.${trimsuffix(var.zone_name, ".")}"]
  zone_id                         = module.dns.zone_id
  wait_for_certificate_validation = var.wait_for_certificate_validation
  logs_bucket_name                = module.storage.logs_bucket_name
  logs_bucket_policy_id           = module.storage.logs_bucket_policy_id
  deletion_protection             = var.deletion_protection
  enable_waf_association          = var.enable_waf_association
  tags                            = local.tags
}

module "operator_iam" {
  source               = "./modules/operator-iam"
  name                 = local.name
  oidc_provider_arn    = module.cluster.oidc_provider_arn
  oidc_issuer          = module.cluster.oidc_issuer
  backup_namespaces    = var.operator_namespaces
  backup_bucket_arn    = module.storage.backup_bucket_arn
  backup_prefix        = var.backup_prefix
  backup_kms_key_arn   = module.storage.backup_kms_key_arn
  backup_bucket_region = module.storage.backup_bucket_region
  hosted_zone_id       = module.dns.zone_id
  tags                 = local.tags
}
