# Route53: the environment's zone, the regional records the DR probes use (<region>.<zone>), an HTTPS health check
# of the primary (its metric drives the "DR Primary Unhealthy" alarm), and the app record that DR moves.

locals {
  zone           = trimsuffix(var.zone_name, ".")
  app_fqdn       = "${var.app_record_name}.${local.zone}"
  primary_fqdn   = "${var.primary_region}.${local.zone}"
  secondary_fqdn = "${var.secondary_region}.${local.zone}"
  has_secondary  = var.secondary_endpoint != ""
}

resource "aws_route53_zone" "this" {
  name          = local.zone
  comment       = "SaleSpot ${local.zone}: managed by Terraform; the app record is switched by the operator's DRPolicy"
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_route53_record" "primary_regional" {
  zone_id = aws_route53_zone.this.zone_id
  name    = local.primary_fqdn
  type    = "A"
  alias {
    name                   = var.primary_alb_dns_name
    zone_id                = var.primary_alb_zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "secondary_regional" {
  count   = local.has_secondary ? 1 : 0
  zone_id = aws_route53_zone.this.zone_id
  name    = local.secondary_fqdn
  type    = "CNAME"
  ttl     = 60
  records = [var.secondary_endpoint]
}

resource "aws_route53_health_check" "primary" {
  fqdn              = local.primary_fqdn
  type              = "HTTPS"
  port              = 443
  resource_path     = var.health_check_path
  request_interval  = var.health_check_interval
  failure_threshold = var.health_check_failure_threshold
  enable_sni        = true
  tags              = merge(var.tags, { Name = "${local.primary_fqdn}-health" })
}

# "operator": a plain CNAME the operator switches; Terraform sets it once and leaves its value to the operator.
resource "aws_route53_record" "app_operator" {
  count   = var.failover_records == "operator" ? 1 : 0
  zone_id = aws_route53_zone.this.zone_id
  name    = local.app_fqdn
  type    = "CNAME"
  ttl     = 60
  records = [local.primary_fqdn]
  lifecycle {
    ignore_changes = [records, ttl]
  }
}

# "route53": Route53 fails over by itself on the health check. Both failover records are CNAMEs to the regional
# names (the two of a failover pair must have one type, and an alias must have the type of its target: the
# secondary's regional record is a CNAME).
resource "aws_route53_record" "app_primary" {
  count           = var.failover_records == "route53" ? 1 : 0
  zone_id         = aws_route53_zone.this.zone_id
  name            = local.app_fqdn
  type            = "CNAME"
  ttl             = 60
  records         = [local.primary_fqdn]
  set_identifier  = "primary-${var.primary_region}"
  health_check_id = aws_route53_health_check.primary.id
  failover_routing_policy {
    type = "PRIMARY"
  }
}

resource "aws_route53_record" "app_secondary" {
  count          = var.failover_records == "route53" && local.has_secondary ? 1 : 0
  zone_id        = aws_route53_zone.this.zone_id
  name           = local.app_fqdn
  type           = "CNAME"
  ttl            = 60
  records        = [local.secondary_fqdn]
  set_identifier = "secondary-${var.secondary_region}"
  failover_routing_policy {
    type = "SECONDARY"
  }
}
