output "instance_identifier" {
  description = "The DB instance identifier (the alarms' DBInstanceIdentifier dimension)."
  value       = aws_db_instance.this.identifier
}

output "address" {
  description = "The instance's DNS name."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "The instance's port."
  value       = aws_db_instance.this.port
}

output "master_user_secret_arn" {
  description = "The Secrets Manager secret RDS keeps the master password in."
  value       = try(aws_db_instance.this.master_user_secret[0].secret_arn, null)
}

output "security_group_id" {
  description = "The database's security group."
  value       = aws_security_group.this.id
}

output "kms_key_arn" {
  description = "The database's KMS key."
  value       = aws_kms_key.this.arn
}
