output "backup_bucket_name" {
  description = "The backup bucket (BackupPolicy spec.destination.bucket)."
  value       = aws_s3_bucket.backup.bucket
}

output "backup_bucket_arn" {
  description = "The backup bucket's ARN."
  value       = aws_s3_bucket.backup.arn
}

output "backup_bucket_region" {
  description = "The backup bucket's region (BackupPolicy spec.destination.region)."
  value       = data.aws_region.backup.name
}

output "backup_kms_key_arn" {
  description = "The backup bucket's KMS key (BackupPolicy spec.destination.kmsKeyId with serverSideEncryption aws:kms)."
  value       = aws_kms_key.backup.arn
}

output "backup_replica_bucket_name" {
  description = "The replica of the backups in the primary region."
  value       = aws_s3_bucket.replica.bucket
}

output "logs_bucket_name" {
  description = "The access-log bucket."
  value       = aws_s3_bucket.logs.bucket
}

output "logs_bucket_policy_id" {
  description = "The logs bucket policy (the ALB's access logs depend on it)."
  value       = aws_s3_bucket_policy.logs.id
}
