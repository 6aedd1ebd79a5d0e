output "environment" {
  description = "The environment."
  value       = var.environment
}

output "primary_region" {
  description = "The primary region."
  value       = data.aws_region.primary.name
}

output "secondary_region" {
  description = "The secondary region of the DR pair."
  value       = data.aws_region.secondary.name
}

output "vpc_id" {
  description = "The VPC."
  value       = module.network.vpc_id
}

output "cluster_name" {
  description = "The EKS cluster (aws eks update-kubeconfig --name ...)."
  value       = module.cluster.cluster_name
}

output "cluster_endpoint" {
  description = "The EKS API endpoint."
  value       = module.cluster.cluster_endpoint
}

output "database_address" {
  description = "The PostgreSQL endpoint (BackupPolicy spec.database.host when backing up RDS directly)."
  value       = module.database.address
}

output "database_master_secret_arn" {
  description = "The Secrets Manager secret with the master password."
  value       = module.database.master_user_secret_arn
}

output "redis_endpoint" {
  description = "The Redis primary endpoint (TLS)."
  value       = module.cache.primary_endpoint
}

output "redis_auth_secret_arn" {
  description = "The Secrets Manager secret with the Redis AUTH token."
  value       = module.cache.auth_token_secret_arn
}

output "alb_dns_name" {
  description = "The ALB's DNS name."
  value       = module.edge.alb_dns_name
}

output "target_group_arn" {
  description = "The app target group."
  value       = module.edge.target_group_arn
}

output "backup_bucket" {
  description = "BackupPolicy spec.destination.bucket."
  value       = module.storage.backup_bucket_name
}

output "backup_bucket_region" {
  description = "BackupPolicy spec.destination.region."
  value       = module.storage.backup_bucket_region
}

output "backup_prefix" {
  description = "BackupPolicy spec.destination.prefix (empty: leave it unset)."
  value       = var.backup_prefix
}

output "backup_kms_key_arn" {
  description = "BackupPolicy spec.destination.kmsKeyId (with serverSideEncryption: aws:kms)."
  value       = module.storage.backup_kms_key_arn
}

output "backup_replica_bucket" {
  description = "The replica of the backups in the primary region."
  value       = module.storage.backup_replica_bucket_name
}

output "logs_bucket" {
  description = "The ALB access-log bucket."
  value       = module.storage.logs_bucket_name
}

output "hosted_zone_id" {
  description = "DRPolicy spec.dns.route53.hostedZoneId."
  value       = module.dns.zone_id
}

output "dns_zone" {
  description = "DRPolicy spec.dns.zone."
  value       = module.dns.zone_name
}

output "dr_record_name" {
  description = "DRPolicy spec.dns.name."
  value       = module.dns.app_fqdn
}

output "dr_record_type" {
  description = "DRPolicy spec.dns.type."
  value       = module.dns.app_record_type
}

output "dr_primary_value" {
  description = "DRPolicy spec.primary.value."
  value       = module.dns.primary_fqdn
}

output "dr_secondary_value" {
  description = "DRPolicy spec.secondary.value."
  value       = module.dns.secondary_fqdn
}

output "failover_records" {
  description = "Who switches the app record (operator or route53)."
  value       = module.dns.failover_records
}

output "name_servers" {
  description = "Delegate the zone to these."
  value       = module.dns.name_servers
}

output "operator_role_arn" {
  description = "eks.amazonaws.com/role-arn of salespot-system/salespot-operator."
  value       = module.operator_iam.operator_role_arn
}

output "backup_runner_role_arn" {
  description = "eks.amazonaws.com/role-arn of salespot-backup-runner in the watched namespaces."
  value       = module.operator_iam.backup_runner_role_arn
}

output "operator_namespaces" {
  description = "The namespaces the runner role trusts."
  value       = var.operator_namespaces
}

output "alerts_topic_arn" {
  description = "The alerts topic."
  value       = module.monitoring.alerts_topic_arn
}

output "dr_alerts_topic_arn" {
  description = "The DR alerts topic (production)."
  value       = module.monitoring.dr_alerts_topic_arn
}

output "alarm_names" {
  description = "The CloudWatch alarms."
  value       = module.monitoring.alarm_names
}
