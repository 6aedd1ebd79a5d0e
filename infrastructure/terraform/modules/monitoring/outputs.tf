output "alerts_topic_arn" {
  description = "The alerts topic in the primary region (Alertmanager's SNS receiver can publish here too)."
  value       = aws_sns_topic.alerts.arn
}

output "alerts_global_topic_arn" {
  description = "The alerts topic in us-east-1 (billing and Route53 health-check alarms)."
  value       = aws_sns_topic.alerts_global.arn
}

output "dr_alerts_topic_arn" {
  description = "The DR alerts topic (null unless enable_dr_alerts)."
  value       = try(aws_sns_topic.dr_alerts[0].arn, null)
}

output "alarm_names" {
  description = "Every CloudWatch alarm this module creates."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.this : a.alarm_name],
    [aws_cloudwatch_metric_alarm.alb_5xx.alarm_name, aws_cloudwatch_metric_alarm.dr_primary_unhealthy.alarm_name],
    aws_cloudwatch_metric_alarm.billing[*].alarm_name,
  )
}

output "dashboard_name" {
  description = "The CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
