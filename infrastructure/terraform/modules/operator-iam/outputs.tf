output "operator_role_arn" {
  description = "eks.amazonaws.com/role-arn of the operator's ServiceAccount."
  value       = aws_iam_role.operator.arn
}

output "backup_runner_role_arn" {
  description = "eks.amazonaws.com/role-arn of salespot-backup-runner in each backup namespace."
  value       = aws_iam_role.runner.arn
}

output "operator_policy_arn" {
  description = "The operator's policy."
  value       = aws_iam_policy.operator.arn
}

output "backup_runner_policy_arn" {
  description = "The backup runner's policy."
  value       = aws_iam_policy.runner.arn
}
