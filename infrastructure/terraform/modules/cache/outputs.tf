output "replication_group_id" {
  description = "The replication group's id."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint" {
  description = "The primary endpoint (TLS, port 6379)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "auth_token_secret_arn" {
  description = "The Secrets Manager secret holding the AUTH token."
  value       = aws_secretsmanager_secret.auth.arn
}

output "security_group_id" {
  description = "The cache's security group."
  value       = aws_security_group.this.id
}
