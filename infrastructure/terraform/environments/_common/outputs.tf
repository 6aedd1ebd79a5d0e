# Everything the platform exports, as one object plus the values the operator's manifests consume
# (scripts/terraform-outputs.sh ENV turns them into a kustomize patch and sample values).
output "platform" {
  description = "All platform outputs."
  value       = module.platform
}

output "operator_role_arn" {
  description = "eks.amazonaws.com/role-arn of salespot-system/salespot-operator."
  value       = module.platform.operator_role_arn
}

output "backup_runner_role_arn" {
  description = "eks.amazonaws.com/role-arn of salespot-backup-runner."
  value       = module.platform.backup_runner_role_arn
}

output "backup_bucket" {
  description = "BackupPolicy spec.destination.bucket."
  value       = module.platform.backup_bucket
}

output "backup_bucket_region" {
  description = "BackupPolicy spec.destination.region."
  value       = module.platform.backup_bucket_region
}

output "hosted_zone_id" {
  description = "DRPolicy spec.dns.route53.hostedZoneId."
  value       = module.platform.hosted_zone_id
}

output "dr_record_name" {
  description = "DRPolicy spec.dns.name."
  value       = module.platform.dr_record_name
}
