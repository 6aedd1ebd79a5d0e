# The original design's monitoring.tf: SNS topics (alerts; DR alerts in production) with e-mail subscriptions and
# optional HTTPS (Slack/Telegram relay) ones, all encrypted with KMS; the CloudWatch alarms API High CPU, API High
# Memory (Container Insights), RDS High CPU, RDS High Connections, ALB High 5XX, DR Primary Unhealthy (Route53
# health-check metric, us-east-1); a dashboard; a billing alarm and a budget. Next to the Prometheus rules of
# manifests/components/monitoring, not instead of them: these watch AWS's side (and fire when the cluster is down).

terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      configuration_aliases = [aws.global]
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "primary" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
}

# Alarms, budgets and EventBridge publish to the topics: they need the key.
data "aws_iam_policy_document" "sns_key" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }
  statement {
    sid       = "AwsServicesPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com", "events.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "sns" {
  description             = "${var.name}: SNS alert topics (${data.aws_region.primary.name})"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.sns_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "sns" {
  name          = "alias/${var.name}-sns"
  target_key_id = aws_kms_key.sns.key_id
}

resource "aws_kms_key" "sns_global" {
  provider                = aws.global
  description             = "${var.name}: SNS alert topics (us-east-1: billing and Route53 health-check alarms)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.sns_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "sns_global" {
  provider      = aws.global
  name          = "alias/${var.name}-sns"
  target_key_id = aws_kms_key.sns_global.key_id
}

# --- Topics ------------------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "topic" {
  for_each = toset(["alerts", "alerts-global", "dr-alerts"])
  statement {
    sid     = "CloudWatchAndBudgetsPublish"
    actions = ["sns:Publish"]
    # The topic ARN is built (not read) so the policy can be planned before the topic exists.
    resources = ["arn:${local.partition}:sns:${each.key == "alerts" ? data.aws_region.primary.name : "us-east-1"}:${local.account}:${var.name}-${each.key}"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  display_name      = "SaleSpot ${var.environment} alerts"
  kms_master_key_id = aws_kms_key.sns.arn
  policy            = data.aws_iam_policy_document.topic["alerts"].json
  tags              = var.tags
}

# Alarms can only notify topics of their own region: the us-east-1 alarms (billing, Route53) use this one.
resource "aws_sns_topic" "alerts_global" {
  provider          = aws.global
  name              = "${var.name}-alerts-global"
  display_name      = "SaleSpot ${var.environment} alerts"
  kms_master_key_id = aws_kms_key.sns_global.arn
  policy            = data.aws_iam_policy_document.topic["alerts-global"].json
  tags              = var.tags
}

resource "aws_sns_topic" "dr_alerts" {
  count             = var.enable_dr_alerts ? 1 : 0
  provider          = aws.global
  name              = "${var.name}-dr-alerts"
  display_name      = "SaleSpot ${var.environment} DR alerts"
  kms_master_key_id = aws_kms_key.sns_global.arn
  policy            = data.aws_iam_policy_document.topic["dr-alerts"].json
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "alerts_email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "alerts_global_email" {
  for_each  = toset(var.alert_emails)
  provider  = aws.global
  topic_arn = aws_sns_topic.alerts_global.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "alerts_https" {
  for_each               = toset(var.alert_https_endpoints)
  topic_arn              = aws_sns_topic.alerts.arn
  protocol               = "https"
  endpoint               = each.value
  endpoint_auto_confirms = true
}

resource "aws_sns_topic_subscription" "dr_alerts_email" {
  for_each  = var.enable_dr_alerts ? toset(var.dr_alert_emails) : toset([])
  provider  = aws.global
  topic_arn = aws_sns_topic.dr_alerts[0].arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Alarms (primary region) -------------------------------------------------------------------------------------

locals {
  alerts = [aws_sns_topic.alerts.arn]
  alarms = {
    "API High CPU" = {
      namespace   = "ContainerInsights"
      metric      = "pod_cpu_utilization_over_pod_limit"
      statistic   = "Average"
      threshold   = var.api_cpu_threshold
      period      = 300
      evaluations = 2
      dimensions  = { ClusterName = var.cluster_name, Namespace = var.api_namespace, Service = var.api_service }
      description = "The API pods' CPU is above ${var.api_cpu_threshold}% of their limit for 10 minutes."
      missing     = "missing"
    }
    "API High Memory" = {
      namespace   = "ContainerInsights"
      metric      = "pod_memory_utilization_over_pod_limit"
      statistic   = "Average"
      threshold   = var.api_memory_threshold
      period      = 300
      evaluations = 2
      dimensions  = { ClusterName = var.cluster_name, Namespace = var.api_namespace, Service = var.api_service }
      description = "The API pods' memory is above ${var.api_memory_threshold}% of their limit for 10 minutes."
      missing     = "missing"
    }
    "RDS High CPU" = {
      namespace   = "AWS/RDS"
      metric      = "CPUUtilization"
      statistic   = "Average"
      threshold   = var.rds_cpu_threshold
      period      = 300
      evaluations = 2
      dimensions  = { DBInstanceIdentifier = var.db_instance_identifier }
      description = "PostgreSQL's CPU is above ${var.rds_cpu_threshold}% for 10 minutes."
      missing     = "breaching"
    }
    "RDS High Connections" = {
      namespace   = "AWS/RDS"
      metric      = "DatabaseConnections"
      statistic   = "Maximum"
      threshold   = var.rds_connections_threshold
      period      = 300
      evaluations = 1
      dimensions  = { DBInstanceIdentifier = var.db_instance_identifier }
      description = "More than ${var.rds_connections_threshold} connections to PostgreSQL."
      missing     = "breaching"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = "${var.name} ${each.key}"
  alarm_description   = "[${var.environment}] ${each.value.description}"
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = each.value.period
  evaluation_periods  = each.value.evaluations
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = each.value.missing
  alarm_actions       = local.alerts
  ok_actions          = local.alerts
  tags                = var.tags
}

# 5XX answered by the ALB itself plus 5XX from the targets, summed over 5 minutes.
resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  alarm_name          = "${var.name} ALB High 5XX"
  alarm_description   = "[${var.environment}] More than ${var.alb_5xx_threshold} 5XX responses (ALB and targets) in 5 minutes."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = var.alb_5xx_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alerts
  ok_actions          = local.alerts

  metric_query {
    id          = "total"
    expression  = "FILL(elb, 0) + FILL(target, 0)"
    label       = "5XX responses"
    return_data = true
  }

  metric_query {
    id = "elb"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 300
      stat        = "Sum"
    }
  }

  metric_query {
    id = "target"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 300
      stat        = "Sum"
    }
  }

  tags = var.tags
}

# --- Alarms (us-east-1) ------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "dr_primary_unhealthy" {
  provider            = aws.global
  alarm_name          = "${var.name} DR Primary Unhealthy"
  alarm_description   = "[${var.environment}] The Route53 health check of the primary site (${data.aws_region.primary.name}) fails: the DRPolicy fails over at its own threshold."
  namespace           = "AWS/Route53"
  metric_name         = "HealthCheckStatus"
  dimensions          = { HealthCheckId = var.health_check_id }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = concat([aws_sns_topic.alerts_global.arn], aws_sns_topic.dr_alerts[*].arn)
  ok_actions          = concat([aws_sns_topic.alerts_global.arn], aws_sns_topic.dr_alerts[*].arn)
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "billing" {
  count               = var.enable_billing_alarm ? 1 : 0
  provider            = aws.global
  alarm_name          = "${var.name} Billing Estimated Charges"
  alarm_description   = "[${var.environment}] The account's estimated charges this month exceed ${var.billing_threshold_usd} USD."
  namespace           = "AWS/Billing"
  metric_name         = "EstimatedCharges"
  dimensions          = { Currency = "USD" }
  statistic           = "Maximum"
  period              = 21600
  evaluation_periods  = 1
  threshold           = var.billing_threshold_usd
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts_global.arn]
  tags                = var.tags
}

resource "aws_budgets_budget" "monthly" {
  count        = var.enable_budget ? 1 : 0
  account_id   = local.account
  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.billing_threshold_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  cost_filter {
    name   = "TagKeyValue"
    values = [format("user:Environment$%s", var.environment)]
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 80
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_email_addresses = var.alert_emails
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    notification_type          = "FORECASTED"
    subscriber_email_addresses = var.alert_emails
  }
}

# --- Dashboard ---------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "API CPU and memory (% of limit)"
          region = data.aws_region.primary.name
          stat   = "Average"
          period = 300
          metrics = [
            ["ContainerInsights", "pod_cpu_utilization_over_pod_limit", "ClusterName", var.cluster_name, "Namespace", var.api_namespace, "Service", var.api_service],
            ["ContainerInsights", "pod_memory_utilization_over_pod_limit", "ClusterName", var.cluster_name, "Namespace", var.api_namespace, "Service", var.api_service],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "PostgreSQL"
          region = data.aws_region.primary.name
          period = 300
          metrics = [
            ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.db_instance_identifier, { stat = "Average" }],
            ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", var.db_instance_identifier, { stat = "Maximum", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "ALB requests and 5XX"
          region = data.aws_region.primary.name
          stat   = "Sum"
          period = 300
          metrics = [
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix],
            ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix],
            ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix],
            ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p95", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "Primary site health (Route53)"
          region = "us-east-1"
          stat   = "Minimum"
          period = 60
          metrics = [
            ["AWS/Route53", "HealthCheckStatus", "HealthCheckId", var.health_check_id],
          ]
        }
      },
      {
        type = "alarm", x = 0, y = 12, width = 24, height = 4
        properties = {
          title  = "Alarms"
          alarms = concat([for a in aws_cloudwatch_metric_alarm.this : a.arn], [aws_cloudwatch_metric_alarm.alb_5xx.arn])
        }
      },
    ]
  })
}
