output "zone_id" {
  description = "The hosted zone id (DRPolicy spec.dns.route53.hostedZoneId)."
  value       = aws_route53_zone.this.zone_id
}

output "zone_name" {
  description = "The zone's name with the trailing dot (DRPolicy spec.dns.zone)."
  value       = "${local.zone}."
}

output "name_servers" {
  description = "The zone's name servers (delegate the zone to them)."
  value       = aws_route53_zone.this.name_servers
}

output "app_fqdn" {
  description = "The app record with the trailing dot (DRPolicy spec.dns.name)."
  value       = "${local.app_fqdn}."
}

output "app_record_type" {
  description = "The app record's type (DRPolicy spec.dns.type)."
  value       = var.failover_records == "operator" ? "CNAME" : "A"
}

output "primary_fqdn" {
  description = "The primary's regional name (DRPolicy spec.primary.value in operator mode; its health URL host)."
  value       = "${local.primary_fqdn}."
}

output "secondary_fqdn" {
  description = "The secondary's regional name (DRPolicy spec.secondary.value in operator mode)."
  value       = "${local.secondary_fqdn}."
}

output "primary_health_check_id" {
  description = "The Route53 health check of the primary."
  value       = aws_route53_health_check.primary.id
}

output "failover_records" {
  description = "Who switches the app record: operator or route53."
  value       = var.failover_records
}
