output "alb_arn" {
  description = "The ALB's ARN."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "The ALB's ARN suffix (the LoadBalancer dimension of AWS/ApplicationELB metrics)."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "The ALB's DNS name."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "The ALB's canonical hosted zone id (for alias records)."
  value       = aws_lb.this.zone_id
}

output "target_group_arn" {
  description = "The app target group (a TargetGroupBinding of the AWS Load Balancer Controller registers pods in it)."
  value       = aws_lb_target_group.app.arn
}

output "certificate_arn" {
  description = "The ACM certificate."
  value       = aws_acm_certificate.this.arn
}

output "web_acl_arn" {
  description = "The WAFv2 web ACL (null when disabled)."
  value       = try(aws_wafv2_web_acl.this[0].arn, null)
}
