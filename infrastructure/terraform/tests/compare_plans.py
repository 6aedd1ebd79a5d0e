#!/usr/bin/env python3
"""Compares the plans of dev and production (terraform show -json of a plan from empty state, with every emulator
gate at its AWS default) and checks what production must have and dev must not.

    compare_plans.py DEV_PLAN_JSON PROD_PLAN_JSON

Prints the resource counts by type that differ, then PASS/FAIL per check; exits 1 if any failed.
"""
import collections
import json
import sys

results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print(f"{'PASS' if cond else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""))


def load(path):
    plan = json.load(open(path))
    creates = [rc for rc in plan.get("resource_changes", []) if "create" in rc["change"]["actions"]]
    return creates


def by_type(creates, t):
    return [rc for rc in creates if rc["type"] == t]


def after(rc):
    return rc["change"].get("after") or {}


def one(creates, t, label):
    found = by_type(creates, t)
    if len(found) != 1:
        raise SystemExit(f"FAIL  {label}: {len(found)} {t} in the plan")
    return after(found[0])


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    dev, prod = load(sys.argv[1]), load(sys.argv[2])
    cd = collections.Counter(rc["type"] for rc in dev)
    cp = collections.Counter(rc["type"] for rc in prod)
    print(f"resources to create: dev {len(dev)}, production {len(prod)}")
    print(f"{'type':48} {'dev':>5} {'prod':>5}")
    for t in sorted(set(cd) | set(cp)):
        if cd[t] != cp[t]:
            print(f"{t:48} {cd[t]:>5} {cp[t]:>5}")

    check("production has more resources than dev", len(prod) > len(dev), f"{len(dev)} -> {len(prod)}")
    check("NAT gateways: one in dev, one per zone (3) in production",
          cd["aws_nat_gateway"] == 1 and cp["aws_nat_gateway"] == 3, f"{cd['aws_nat_gateway']} / {cp['aws_nat_gateway']}")
    check("subnets: 2 zones x 3 tiers in dev, 3 x 3 in production",
          cd["aws_subnet"] == 6 and cp["aws_subnet"] == 9, f"{cd['aws_subnet']} / {cp['aws_subnet']}")

    ddb, pdb = one(dev, "aws_db_instance", "dev"), one(prod, "aws_db_instance", "production")
    check("RDS multi_az: false in dev, true in production", ddb["multi_az"] is False and pdb["multi_az"] is True,
          f"{ddb['multi_az']} / {pdb['multi_az']}")
    check("RDS deletion_protection: false in dev, true in production",
          ddb["deletion_protection"] is False and pdb["deletion_protection"] is True,
          f"{ddb['deletion_protection']} / {pdb['deletion_protection']}")
    check("RDS final snapshot only in production", ddb["skip_final_snapshot"] is True and pdb["skip_final_snapshot"] is False)
    check("RDS storage encrypted in both", ddb["storage_encrypted"] and pdb["storage_encrypted"])
    check("RDS backup retention 1 day in dev, 30 in production",
          ddb["backup_retention_period"] == 1 and pdb["backup_retention_period"] == 30)

    dlb, plb = one(dev, "aws_lb", "dev"), one(prod, "aws_lb", "production")
    check("ALB deletion protection only in production",
          dlb["enable_deletion_protection"] is False and plb["enable_deletion_protection"] is True)

    drg, prg = one(dev, "aws_elasticache_replication_group", "dev"), one(prod, "aws_elasticache_replication_group", "production")
    check("Redis: 1 node in dev; 3 nodes, Multi-AZ with automatic failover in production",
          drg["num_cache_clusters"] == 1 and not drg["multi_az_enabled"]
          and prg["num_cache_clusters"] == 3 and prg["multi_az_enabled"] and prg["automatic_failover_enabled"])
    check("Redis encrypted at rest and in transit in both",
          all(r["at_rest_encryption_enabled"] and r["transit_encryption_enabled"] for r in (drg, prg)))

    dng, png = one(dev, "aws_eks_node_group", "dev"), one(prod, "aws_eks_node_group", "production")
    check("node capacity: SPOT in dev, ON_DEMAND in production",
          dng["capacity_type"] == "SPOT" and png["capacity_type"] == "ON_DEMAND", f"{dng['capacity_type']} / {png['capacity_type']}")

    def topics(creates):
        return sorted(after(rc)["name"] for rc in by_type(creates, "aws_sns_topic"))

    def subs(creates):
        return sorted(after(rc)["endpoint"] for rc in by_type(creates, "aws_sns_topic_subscription"))

    check("DR alerts topic only in production",
          not any("dr-alerts" in t for t in topics(dev)) and "salespot-production-dr-alerts" in topics(prod),
          f"dev {topics(dev)}; production {topics(prod)}")
    check("dr-alerts@salespot.by subscribed only in production",
          "dr-alerts@salespot.by" not in subs(dev) and "dr-alerts@salespot.by" in subs(prod))
    check("alerts@salespot.by subscribed in both", "alerts@salespot.by" in subs(dev) and "alerts@salespot.by" in subs(prod))

    def alarms(creates):
        return sorted(after(rc)["alarm_name"].split(" ", 1)[1] for rc in by_type(creates, "aws_cloudwatch_metric_alarm"))

    want = ["ALB High 5XX", "API High CPU", "API High Memory", "Billing Estimated Charges", "DR Primary Unhealthy",
            "RDS High CPU", "RDS High Connections"]
    check("the original design's alarms (and billing) in both", alarms(dev) == want and alarms(prod) == want,
          f"{alarms(prod)}")
    keys_dev, keys_prod = by_type(dev, "aws_kms_key"), by_type(prod, "aws_kms_key")
    check("KMS keys in both, every one rotating", len(keys_dev) >= 5 and len(keys_prod) >= 5
          and all(after(rc).get("enable_key_rotation") is True for rc in keys_dev + keys_prod), f"{len(keys_dev)} / {len(keys_prod)} keys")

    # The alarm's actions are the topics' ARNs, unknown until apply: the configuration says which topics they are.
    def dr_alarm_refs(plan):
        found = []

        def walk(module):
            for r in module.get("resources", []):
                if r["address"] == "aws_cloudwatch_metric_alarm.dr_primary_unhealthy":
                    found.append(r.get("expressions", {}).get("alarm_actions", {}).get("references", []))
            for call in module.get("module_calls", {}).values():
                walk(call["module"])
        walk(plan["configuration"]["root_module"])
        return found[0] if len(found) == 1 else []
    refs = dr_alarm_refs(json.load(open(sys.argv[2])))
    check("DR Primary Unhealthy notifies the alerts topic and the DR alerts topic (which exists in production only)",
          "aws_sns_topic.alerts_global" in refs and "aws_sns_topic.dr_alerts" in refs and len(by_type(prod, "aws_sns_topic")) > len(by_type(dev, "aws_sns_topic")),
          f"{refs}")
    check("gated AWS-only parts planned in both (WAF association, certificate validation, replication, budget, Container Insights)",
          all(c[t] == 1 for c in (cd, cp) for t in ("aws_wafv2_web_acl_association", "aws_acm_certificate_validation",
                                                   "aws_s3_bucket_replication_configuration", "aws_budgets_budget",
                                                   "aws_eks_addon")))
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
