# The platform composition (the original design's main.tf, variables.tf, monitoring.tf): a module that each
# environment root (environments/dev, staging, production) instantiates with its own sizes and switches. It takes
# three AWS providers from the root: the primary region (eu-west-1), the secondary region of the DR pair
# (eu-central-1: the backup bucket, as in the original design) and us-east-1 (Route53 health-check and billing
# metrics, budgets).
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = ">= 5.100, < 6.0"
      configuration_aliases = [aws.secondary, aws.global]
    }
  }
}
