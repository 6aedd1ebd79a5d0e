output "cluster_name" {
  description = "The EKS cluster's name."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "The EKS cluster's ARN."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "The API server's endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "node_security_group_id" {
  description = "The nodes' security group: the database, cache and load balancer rules reference it."
  value       = aws_security_group.node.id
}

output "node_group_name" {
  description = "The managed node group's name."
  value       = aws_eks_node_group.default.node_group_name
}

output "oidc_provider_arn" {
  description = "The IAM OIDC provider's ARN (IRSA roles trust it)."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer" {
  description = "The issuer without https:// (the prefix of the sub and aud condition keys)."
  value       = replace(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")
}

output "secrets_kms_key_arn" {
  description = "The KMS key encrypting Kubernetes Secrets."
  value       = aws_kms_key.secrets.arn
}

output "ebs_kms_key_arn" {
  description = "The KMS key of the nodes' EBS volumes."
  value       = aws_kms_key.ebs.arn
}
