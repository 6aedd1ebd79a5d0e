output "vpc_id" {
  description = "The VPC's id."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "The VPC's CIDR block."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets (load balancers, NAT gateways), one per zone."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (EKS nodes), one per zone."
  value       = aws_subnet.private[*].id
}

output "data_subnet_ids" {
  description = "Data subnets (RDS, ElastiCache), one per zone; no internet route."
  value       = aws_subnet.data[*].id
}

output "private_cidr_blocks" {
  description = "The private subnets' CIDR blocks."
  value       = local.private_cidrs
}

output "nat_gateway_ids" {
  description = "The NAT gateways (one, or one per zone)."
  value       = aws_nat_gateway.this[*].id
}

output "logs_kms_key_arn" {
  description = "The KMS key for this environment's CloudWatch Logs groups."
  value       = aws_kms_key.logs.arn
}
