# IRSA roles for the operator, least privilege: exactly the calls its S3 and Route53 clients make
# (Sources/ObjectStore/S3Client.swift, Sources/DNSProviders/Route53Client.swift), on its bucket's keys and its zone.
#
# Two roles, because the work is split between two identities:
#  - operator (salespot-system/salespot-operator): reads backup manifests (GetObject), deletes expired backups
#    (DeleteObject), finds and aborts their unfinished multipart uploads (ListBucketMultipartUploads,
#    AbortMultipartUpload), and switches the DR record (Route53 ListResourceRecordSets, ChangeResourceRecordSets,
#    GetChange);
#  - backup runner (<namespace>/salespot-backup-runner, the backup and restore Jobs): uploads (PutObject and the
#    multipart calls, which IAM authorises as s3:PutObject), reads back (GetObject, HeadObject = GetObject) and
#    aborts its own failed uploads. It needs no Route53 and no delete.
# Both get s3:ListBucket on their prefix only: without it S3 answers a HEAD of a missing key 403 instead of 404,
# and the clients tell "absent" from "denied" by that code.
# Not granted: s3:CreateBucket (S3Client.createBucket exists for tests; the bucket is Terraform's here).

data "aws_partition" "current" {}

locals {
  partition     = data.aws_partition.current.partition
  key_prefixes  = [for ns in var.backup_namespaces : "${var.backup_prefix}${ns}/"]
  object_arns   = [for p in local.key_prefixes : "${var.backup_bucket_arn}/${p}*"]
  list_prefixes = flatten([for p in local.key_prefixes : [p, "${p}*"]])
  operator_sub  = "system:serviceaccount:${replace(var.operator_service_account, "/", ":")}"
  runner_subs   = [for ns in var.backup_namespaces : "system:serviceaccount:${ns}:${var.backup_runner_service_account}"]
}

data "aws_iam_policy_document" "trust" {
  for_each = {
    operator = [local.operator_sub]
    runner   = local.runner_subs
  }
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:sub"
      values   = each.value
    }
  }
}

data "aws_iam_policy_document" "operator" {
  statement {
    sid       = "ListBackupKeys"
    actions   = ["s3:ListBucket"]
    resources = [var.backup_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.list_prefixes
    }
  }
  statement {
    sid       = "ListUnfinishedUploads"
    actions   = ["s3:ListBucketMultipartUploads"]
    resources = [var.backup_bucket_arn]
  }
  statement {
    sid       = "ReadAndExpireBackups"
    actions   = ["s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = local.object_arns
  }
  statement {
    sid       = "BackupKey"
    actions   = ["kms:Decrypt"]
    resources = [var.backup_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.backup_bucket_region}.amazonaws.com"]
    }
  }
  statement {
    sid       = "SwitchDrRecord"
    actions   = ["route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"]
    resources = ["arn:${local.partition}:route53:::hostedzone/${var.hosted_zone_id}"]
  }
  statement {
    sid       = "WaitForChange"
    actions   = ["route53:GetChange"]
    resources = ["arn:${local.partition}:route53:::change/*"]
  }
}

data "aws_iam_policy_document" "runner" {
  statement {
    sid       = "ListBackupKeys"
    actions   = ["s3:ListBucket"]
    resources = [var.backup_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.list_prefixes
    }
  }
  statement {
    sid       = "WriteAndReadBackups"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
    resources = local.object_arns
  }
  statement {
    sid       = "BackupKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.backup_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.backup_bucket_region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "operator" {
  name                 = "${var.name}-operator"
  description          = "IRSA: ${var.operator_service_account}"
  assume_role_policy   = data.aws_iam_policy_document.trust["operator"].json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_policy" "operator" {
  name        = "${var.name}-operator"
  description = "SaleSpot operator: its backups' keys and its DR zone's records"
  policy      = data.aws_iam_policy_document.operator.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "operator" {
  role       = aws_iam_role.operator.name
  policy_arn = aws_iam_policy.operator.arn
}

resource "aws_iam_role" "runner" {
  name                 = "${var.name}-backup-runner"
  description          = "IRSA: ${var.backup_runner_service_account} in ${join(", ", var.backup_namespaces)}"
  assume_role_policy   = data.aws_iam_policy_document.trust["runner"].json
  max_session_duration = 43200
  tags                 = var.tags
}

resource "aws_iam_policy" "runner" {
  name        = "${var.name}-backup-runner"
  description = "SaleSpot backup and restore Jobs: write and read their namespace's backups"
  policy      = data.aws_iam_policy_document.runner.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "runner" {
  role       = aws_iam_role.runner.name
  policy_arn = aws_iam_policy.runner.arn
}
