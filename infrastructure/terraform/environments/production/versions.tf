terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 6.0"
    }
  }

  # Local state by default (CI and first trials). For a shared environment, replace with an S3 backend and pass
  # its settings at init time, e.g.
  #   backend "s3" {}
  #   terraform init -backend-config="bucket=salespot-terraform-state" \
  #     -backend-config="key=ENV/terraform.tfstate" -backend-config="region=eu-west-1" \
  #     -backend-config="use_lockfile=true" -backend-config="encrypt=true"
  backend "local" {}
}
