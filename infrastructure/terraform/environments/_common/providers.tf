# Real AWS by default. With aws_endpoint set (tests/emulator.tfvars, or terraform-init.sh --emulator URL), every
# service this configuration calls goes to that endpoint (moto server), with fixed test credentials and no account
# or metadata look-ups.

locals {
  emulated = var.aws_endpoint != ""
  default_tags = {
    Project     = "salespot"
    Environment = local.environment
    ManagedBy   = "terraform"
  }
  emulated_services = [
    "acm", "budgets", "cloudwatch", "cloudwatchlogs", "ec2", "eks", "elasticache", "elbv2", "iam", "kms", "rds",
    "route53", "s3", "secretsmanager", "sns", "sts", "wafv2",
  ]
}

provider "aws" {
  region                      = var.primary_region
  access_key                  = local.emulated ? "test" : null
  secret_key                  = local.emulated ? "test" : null
  skip_credentials_validation = local.emulated
  skip_requesting_account_id  = local.emulated
  skip_metadata_api_check     = local.emulated
  s3_use_path_style           = local.emulated
  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint] : []
    content {
      acm            = endpoints.value
      budgets        = endpoints.value
      cloudwatch     = endpoints.value
      cloudwatchlogs = endpoints.value
      ec2            = endpoints.value
      eks            = endpoints.value
      elasticache    = endpoints.value
      elbv2          = endpoints.value
      iam            = endpoints.value
      kms            = endpoints.value
      rds            = endpoints.value
      route53        = endpoints.value
      s3             = endpoints.value
      secretsmanager = endpoints.value
      sns            = endpoints.value
      sts            = endpoints.value
      wafv2          = endpoints.value
    }
  }
  default_tags {
    tags = local.default_tags
  }
}

provider "aws" {
  alias                       = "secondary"
  region                      = var.secondary_region
  access_key                  = local.emulated ? "test" : null
  secret_key                  = local.emulated ? "test" : null
  skip_credentials_validation = local.emulated
  skip_requesting_account_id  = local.emulated
  skip_metadata_api_check     = local.emulated
  s3_use_path_style           = local.emulated
  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint] : []
    content {
      acm            = endpoints.value
      budgets        = endpoints.value
      cloudwatch     = endpoints.value
      cloudwatchlogs = endpoints.value
      ec2            = endpoints.value
      eks            = endpoints.value
      elasticache    = endpoints.value
      elbv2          = endpoints.value
      iam            = endpoints.value
      kms            = endpoints.value
      rds            = endpoints.value
      route53        = endpoints.value
      s3             = endpoints.value
      secretsmanager = endpoints.value
      sns            = endpoints.value
      sts            = endpoints.value
      wafv2          = endpoints.value
    }
  }
  default_tags {
    tags = local.default_tags
  }
}

# us-east-1: Route53 health-check metrics and AWS/Billing exist only there.
provider "aws" {
  alias                       = "global"
  region                      = "us-east-1"
  access_key                  = local.emulated ? "test" : null
  secret_key                  = local.emulated ? "test" : null
  skip_credentials_validation = local.emulated
  skip_requesting_account_id  = local.emulated
  skip_metadata_api_check     = local.emulated
  s3_use_path_style           = local.emulated
  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint] : []
    content {
      acm            = endpoints.value
      budgets        = endpoints.value
      cloudwatch     = endpoints.value
      cloudwatchlogs = endpoints.value
      ec2            = endpoints.value
      eks            = endpoints.value
      elasticache    = endpoints.value
      elbv2          = endpoints.value
      iam            = endpoints.value
      kms            = endpoints.value
      rds            = endpoints.value
      route53        = endpoints.value
      s3             = endpoints.value
      secretsmanager = endpoints.value
      sns            = endpoints.value
      sts            = endpoints.value
      wafv2          = endpoints.value
    }
  }
  default_tags {
    tags = local.default_tags
  }
}
