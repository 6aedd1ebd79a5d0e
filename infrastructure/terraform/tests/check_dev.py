#!/usr/bin/env python3
"""Checks from outside (boto3 against the emulator) that the dev environment exists as declared.

    check_dev.py --endpoint URL --outputs OUTPUTS_JSON            after apply: every component, as declared
    check_dev.py --endpoint URL --destroyed                       after destroy: nothing of dev is left

Each check prints PASS or FAIL with what it saw; the exit status is 1 if any failed. The expected values are the
dev environment's (environments/dev/main.tf) and the operator's API calls (modules/operator-iam).
"""
import argparse
import json
import sys

import boto3
from botocore.config import Config

PRIMARY, SECONDARY, GLOBAL = "eu-west-1", "eu-central-1", "us-east-1"
NAME = "salespot-dev"
ZONE = "dev.salespot.by"
NAMESPACE = "salespot-dev"

results = []


def check(name):
    def wrap(fn):
        try:
            detail = fn()
            ok = True
        except AssertionError as e:
            ok, detail = False, str(e) or "assertion failed"
        except Exception as e:  # an API error is a failure of the check, not of the checker
            ok, detail = False, f"{type(e).__name__}: {e}"
        results.append(ok)
        print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""), flush=True)
        return fn
    return wrap


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--outputs")
    ap.add_argument("--destroyed", action="store_true")
    args = ap.parse_args()

    cfg = Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"})

    def c(service, region=PRIMARY):
        return boto3.client(service, region_name=region, endpoint_url=args.endpoint, aws_access_key_id="test",
                            aws_secret_access_key="test", config=cfg)

    if args.destroyed:
        destroyed(c)
    else:
        out = json.load(open(args.outputs))["platform"]["value"]
        applied(c, out)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def applied(c, out):
    ec2, eks, rds, ec = c("ec2"), c("eks"), c("rds"), c("elasticache")
    elb, iam, r53, acm = c("elbv2"), c("iam"), c("route53"), c("acm")
    s3b, s3p = c("s3", SECONDARY), c("s3")
    state = {}

    @check("VPC 10.10.0.0/16 with DNS hostnames")
    def _():
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Vpcs"]
        expect(len(vpcs) == 1, f"{len(vpcs)} VPCs named {NAME}")
        v = vpcs[0]
        expect(v["VpcId"] == out["vpc_id"], "not the output's VPC")
        expect(v["CidrBlock"] == "10.10.0.0/16", v["CidrBlock"])
        attr = ec2.describe_vpc_attribute(VpcId=v["VpcId"], Attribute="enableDnsHostnames")
        expect(attr["EnableDnsHostnames"]["Value"], "DNS hostnames off")
        state["vpc"] = v["VpcId"]
        return v["VpcId"]

    @check("subnets: public, private, data in eu-west-1a and eu-west-1b")
    def _():
        subs = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [state["vpc"]]}])["Subnets"]
        tiers = {}
        for s in subs:
            tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
            tiers.setdefault(tags.get("Tier"), []).append(s)
            expect(not s.get("MapPublicIpOnLaunch"), f"{s['SubnetId']} maps public IPs")
        for tier in ("public", "private", "data"):
            azs = sorted(s["AvailabilityZone"] for s in tiers.get(tier, []))
            expect(azs == ["eu-west-1a", "eu-west-1b"], f"{tier}: {azs}")
        state["private_cidrs"] = sorted(s["CidrBlock"] for s in tiers["private"])
        return f"{len(subs)} subnets"

    @check("one NAT gateway (dev), internet gateway")
    def _():
        nats = [n for n in ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [state["vpc"]]}])["NatGateways"]
                if n["State"] not in ("deleted", "deleting")]
        expect(len(nats) == 1, f"{len(nats)} NAT gateways")
        igw = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [state["vpc"]]}])["InternetGateways"]
        expect(len(igw) == 1, f"{len(igw)} internet gateways")

    @check("data-tier NACL: only 5432 and 6379 in from the private subnets, and the data subnets among themselves")
    def _():
        acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [state["vpc"]]},
                                                  {"Name": "tag:Name", "Values": [f"{NAME}-data"]}])["NetworkAcls"]
        expect(len(acls) == 1, f"{len(acls)} data NACLs")
        allow_in = [e for e in acls[0]["Entries"] if not e["Egress"] and e["RuleAction"] == "allow"]
        from_private = [e for e in allow_in if e["CidrBlock"] in state["private_cidrs"]]
        proto = lambda e: "6" if e["Protocol"] in ("6", "tcp") else e["Protocol"]  # AWS answers numbers; emulators may not
        got = sorted((e["CidrBlock"], proto(e), e["PortRange"]["From"], e["PortRange"]["To"]) for e in from_private)
        want = sorted((cidr, "6", p, p) for cidr in state["private_cidrs"] for p in (5432, 6379))
        expect(got == want, f"ingress from the private subnets {got}")
        subnet_ids = [a["SubnetId"] for a in acls[0]["Associations"]]
        data_cidrs = sorted(sn["CidrBlock"] for sn in ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]) if subnet_ids else []
        rest = sorted(e["CidrBlock"] for e in allow_in if e not in from_private)
        expect(len(data_cidrs) == 2 and rest == data_cidrs, f"other ingress {rest}, data subnets {data_cidrs}")

    @check("VPC flow logs to a KMS-encrypted log group")
    def _():
        fl = c("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [state["vpc"]]}])["FlowLogs"]
        expect(len(fl) == 1 and fl[0]["TrafficType"] == "ALL", f"{fl}")
        groups = c("logs").describe_log_groups(logGroupNamePrefix=f"/aws/vpc/{NAME}/flow-logs")["logGroups"]
        expect(len(groups) == 1 and groups[0].get("kmsKeyId"), f"log group {groups}")

    @check("EBS encryption by default")
    def _():
        expect(ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"], "off")

    @check("EKS cluster: private endpoint, Secrets encrypted with KMS, control-plane logs")
    def _():
        cl = eks.describe_cluster(name=NAME)["cluster"]
        vpc = cl["resourcesVpcConfig"]
        expect(vpc.get("endpointPrivateAccess") is True, f"endpointPrivateAccess {vpc.get('endpointPrivateAccess')}")
        expect(vpc.get("endpointPublicAccess") is False, f"endpointPublicAccess {vpc.get('endpointPublicAccess')}")
        enc = cl.get("encryptionConfig") or []
        expect(enc and enc[0]["resources"] == ["secrets"] and enc[0]["provider"]["keyArn"].startswith("arn:aws:kms:"),
               f"encryptionConfig {enc}")
        types = {t for lg in cl["logging"]["clusterLogging"] if lg.get("enabled") for t in lg["types"]}
        expect({"api", "audit", "authenticator"} <= types, f"log types {types}")
        state["issuer"] = cl["identity"]["oidc"]["issuer"]
        state["secrets_key"] = enc[0]["provider"]["keyArn"]
        return cl["version"]

    @check("EKS node group: SPOT, 1..3 nodes, our launch template")
    def _():
        ng = eks.describe_nodegroup(clusterName=NAME, nodegroupName=f"{NAME}-default")["nodegroup"]
        state["lt"] = ng.get("launchTemplate", {}).get("id")
        expect(ng["capacityType"] == "SPOT", ng["capacityType"])
        sc = ng["scalingConfig"]
        expect((sc["minSize"], sc["desiredSize"], sc["maxSize"]) == (1, 2, 3), f"{sc}")
        expect(state["lt"], "no launch template")
        return ",".join(ng["instanceTypes"])

    @check("launch template: encrypted gp3 root volume with a KMS key, IMDSv2 required")
    def _():
        v = ec2.describe_launch_template_versions(LaunchTemplateId=state["lt"], Versions=["$Latest"])["LaunchTemplateVersions"][0]
        d = v["LaunchTemplateData"]
        ebs = d["BlockDeviceMappings"][0]["Ebs"]
        expect(ebs.get("Encrypted") is True and ebs.get("KmsKeyId"), f"ebs {ebs}")
        expect(d["MetadataOptions"]["HttpTokens"] == "required", f"{d['MetadataOptions']}")

    @check("IAM OIDC provider for the cluster's issuer")
    def _():
        arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
        host = state["issuer"].replace("https://", "")
        mine = [a for a in arns if a.endswith(host)]
        expect(len(mine) == 1, f"{arns} for {host}")
        p = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=mine[0])
        expect(p["ClientIDList"] == ["sts.amazonaws.com"], f"{p['ClientIDList']}")
        state["oidc_arn"] = mine[0]

    @check("RDS PostgreSQL 15: encrypted with KMS, single-AZ, no deletion protection, private")
    def _():
        db = rds.describe_db_instances(DBInstanceIdentifier=f"{NAME}-postgres")["DBInstances"][0]
        expect(db["Engine"] == "postgres" and db["EngineVersion"].startswith("15"), f"{db['Engine']} {db['EngineVersion']}")
        expect(db["StorageEncrypted"] is True, "StorageEncrypted false")
        expect(db.get("KmsKeyId", "").startswith("arn:aws:kms:"), f"KmsKeyId {db.get('KmsKeyId')}")
        expect(db["MultiAZ"] is False, "MultiAZ true in dev")
        expect(db["DeletionProtection"] is False, "DeletionProtection true in dev")
        expect(db["PubliclyAccessible"] is False, "public")
        expect(db.get("MasterUserSecret", {}).get("SecretArn"), "no Secrets Manager master secret")
        state["db_sg"] = db["VpcSecurityGroups"][0]["VpcSecurityGroupId"]
        return db["DBInstanceClass"]

    @check("ElastiCache Redis 7.1: encrypted at rest (KMS) and in transit")
    def _():
        rg = ec.describe_replication_groups(ReplicationGroupId=f"{NAME}-redis")["ReplicationGroups"][0]
        expect(rg["AtRestEncryptionEnabled"] is True, "at rest off")
        expect(rg["TransitEncryptionEnabled"] is True, "in transit off")
        expect(rg.get("KmsKeyId"), "no KmsKeyId")
        expect(rg.get("AuthTokenEnabled") is True, "no AUTH token")

    def node_sg():
        sgs = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{NAME}-eks-node"]}])["SecurityGroups"]
        return sgs[0]["GroupId"]

    def ingress(group_name):
        sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [group_name]}])["SecurityGroups"][0]
        return sorted((p["IpProtocol"], p.get("FromPort"), p.get("ToPort"),
                       tuple(sorted(u["GroupId"] for u in p.get("UserIdGroupPairs", []))),
                       tuple(sorted(r["CidrIp"] for r in p.get("IpRanges", [])))) for p in sg["IpPermissions"]), sg

    @check("security groups: PostgreSQL 5432 and Redis 6379 from the nodes only")
    def _():
        node = node_sg()
        for group, port in ((f"{NAME}-postgres", 5432), (f"{NAME}-redis", 6379)):
            got, _sg = ingress(group)
            expect(got == [("tcp", port, port, (node,), ())], f"{group}: {got}")

    @check("ALB: internet-facing, invalid headers dropped, access logs to the logs bucket")
    def _():
        lb = elb.describe_load_balancers(Names=[f"{NAME}-alb"])["LoadBalancers"][0]
        # The provider sends no Scheme for internal = false (AWS's default is internet-facing); moto then has none.
        scheme = lb.get("Scheme") or "internet-facing"
        expect(scheme == "internet-facing", scheme)
        attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
        expect(attrs.get("routing.http.drop_invalid_header_fields.enabled") == "true", "invalid headers kept")
        expect(attrs.get("access_logs.s3.enabled") == "true" and attrs.get("access_logs.s3.bucket") == out["logs_bucket"],
               f"access logs {attrs.get('access_logs.s3.enabled')} {attrs.get('access_logs.s3.bucket')}")
        expect(attrs.get("deletion_protection.enabled") == "false", "deletion protection on in dev")
        state["lb"] = lb
        got, _sg = ingress(f"{NAME}-alb")
        expect({(g[1], g[4]) for g in got} == {(80, ("0.0.0.0/0",)), (443, ("0.0.0.0/0",))}, f"ALB ingress {got}")
        return lb["DNSName"]

    @check("ALB listeners: HTTP 80 redirects to HTTPS, HTTPS 443 with the certificate and a TLS 1.2+ policy")
    def _():
        ls = {l["Port"]: l for l in elb.describe_listeners(LoadBalancerArn=state["lb"]["LoadBalancerArn"])["Listeners"]}
        expect(set(ls) == {80, 443}, f"ports {sorted(ls)}")
        r = ls[80]["DefaultActions"][0]
        expect(r["Type"] == "redirect" and r["RedirectConfig"]["Protocol"] == "HTTPS" and r["RedirectConfig"]["Port"] == "443", f"{r}")
        h = ls[443]
        expect(h["Protocol"] == "HTTPS" and h["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06", f"{h['Protocol']} {h.get('SslPolicy')}")
        cert = h["Certificates"][0]["CertificateArn"]
        status = acm.describe_certificate(CertificateArn=cert)["Certificate"]["Status"]
        expect(status == "ISSUED", f"certificate {status}")

    @check("WAFv2 web ACL with managed rules and a rate limit, associated with the ALB")
    def _():
        w = c("wafv2").get_web_acl_for_resource(ResourceArn=state["lb"]["LoadBalancerArn"]).get("WebACL")
        expect(w, "no web ACL on the ALB")
        names = {r["Name"] for r in w["Rules"]}
        expect({"rate-limit-per-ip", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= names, f"{names}")

    def bucket_checks(client, bucket, sse, label):
        enc = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        expect(enc["SSEAlgorithm"] == sse, f"{label} encryption {enc}")
        if sse == "aws:kms":
            expect(enc.get("KMSMasterKeyID", "").startswith("arn:aws:kms:"), f"{label} key {enc}")
        expect(client.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled", f"{label} versioning")
        pab = client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        expect(all(pab[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")), f"{label} {pab}")
        own = client.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
        expect(own == "BucketOwnerEnforced", f"{label} ownership {own}")
        pol = json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])
        deny = [s for s in pol["Statement"] if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
        expect(deny, f"{label}: no deny of plain HTTP")
        return client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]

    @check("backup bucket (eu-central-1): SSE-KMS, versioning, public access blocked, TLS only, lifecycle")
    def _():
        b = out["backup_bucket"]
        loc = s3b.get_bucket_location(Bucket=b)["LocationConstraint"]
        expect(loc == SECONDARY, f"location {loc}")
        rules = {r["ID"]: r for r in bucket_checks(s3b, b, "aws:kms", "backups")}
        t = rules["tiering-and-expiry"]
        classes = [(x["Days"], x["StorageClass"]) for x in t["Transitions"]]
        expect(classes == [(30, "STANDARD_IA"), (90, "GLACIER_IR")], f"transitions {classes}")
        expect(t["Expiration"]["Days"] == 120, f"expiration {t['Expiration']}")
        expect(t["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30, f"{t['NoncurrentVersionExpiration']}")
        a = rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        expect(a == 7, f"abort after {a}")
        return b

    @check("backup replication to the replica bucket in eu-west-1 (KMS re-encrypted)")
    def _():
        rep = s3b.get_bucket_replication(Bucket=out["backup_bucket"])["ReplicationConfiguration"]
        d = rep["Rules"][0]["Destination"]
        expect(d["Bucket"] == f"arn:aws:s3:::{out['backup_replica_bucket']}", f"{d}")
        expect(d.get("EncryptionConfiguration", {}).get("ReplicaKmsKeyID"), "replica not KMS-encrypted")
        expect(s3p.get_bucket_location(Bucket=out["backup_replica_bucket"])["LocationConstraint"] == PRIMARY, "replica region")
        bucket_checks(s3p, out["backup_replica_bucket"], "aws:kms", "replica")

    @check("logs bucket: SSE-S3 (ALB log delivery), versioning, public access blocked, lifecycle, ELB may write")
    def _():
        rules = bucket_checks(s3p, out["logs_bucket"], "AES256", "logs")
        expect(rules and rules[0]["Expiration"]["Days"] == 30, f"{rules}")
        # Dev's logs live 30 days: no STANDARD_IA transition (S3 refuses an expiration not after a transition).
        expect(not rules[0].get("Transitions"), f"transitions {rules[0].get('Transitions')}")
        pol = json.loads(s3p.get_bucket_policy(Bucket=out["logs_bucket"])["Policy"])
        expect(any(s.get("Sid") == "ElbAccessLogDelivery" for s in pol["Statement"]), "no ELB delivery statement")

    @check("Route53 zone dev.salespot.by and the DR records (app CNAME, regional records) and health check")
    def _():
        zid = out["hosted_zone_id"]
        z = r53.get_hosted_zone(Id=zid)["HostedZone"]
        expect(z["Name"] == f"{ZONE}.", z["Name"])
        rrs = {(r["Name"], r["Type"]): r for r in r53.list_resource_record_sets(HostedZoneId=zid)["ResourceRecordSets"]}
        app = rrs.get((f"app.{ZONE}.", "CNAME"))
        expect(app and app["ResourceRecords"][0]["Value"].rstrip(".") == f"{PRIMARY}.{ZONE}", f"app {app}")
        prim = rrs.get((f"{PRIMARY}.{ZONE}.", "A"))
        expect(prim and prim["AliasTarget"]["DNSName"].rstrip(".").lower() == state["lb"]["DNSName"].lower(), f"primary {prim}")
        sec = rrs.get((f"{SECONDARY}.{ZONE}.", "CNAME"))
        expect(sec, "no secondary record")
        hcs = [h for h in r53.list_health_checks()["HealthChecks"] if h["HealthCheckConfig"].get("FullyQualifiedDomainName") == f"{PRIMARY}.{ZONE}"]
        expect(len(hcs) == 1, f"{len(hcs)} health checks")
        cfg = hcs[0]["HealthCheckConfig"]
        expect((cfg["Type"], cfg["ResourcePath"], cfg["RequestInterval"], cfg["FailureThreshold"]) == ("HTTPS", "/health", 10, 3), f"{cfg}")
        state["hc"] = hcs[0]["Id"]
        return zid

    def role_check(role, sub, policy_name, want):
        r = iam.get_role(RoleName=role)["Role"]
        trust = r["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        st = trust["Statement"]
        expect(len(st) == 1 and st[0]["Action"] == "sts:AssumeRoleWithWebIdentity", f"{role} trust {st}")
        expect(st[0]["Principal"]["Federated"] == state["oidc_arn"], f"{role} principal {st[0]['Principal']}")
        host = state["issuer"].replace("https://", "")
        cond = st[0]["Condition"]["StringEquals"]
        expect(cond.get(f"{host}:aud") == "sts.amazonaws.com", f"{role} aud {cond}")
        expect(cond.get(f"{host}:sub") == sub, f"{role} sub {cond.get(host + ':sub')}")
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        expect([p["PolicyName"] for p in attached] == [policy_name], f"{role} policies {attached}")
        ver = iam.get_policy(PolicyArn=attached[0]["PolicyArn"])["Policy"]["DefaultVersionId"]
        doc = iam.get_policy_version(PolicyArn=attached[0]["PolicyArn"], VersionId=ver)["PolicyVersion"]["Document"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        got = {}
        for s in doc["Statement"]:
            acts = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            res = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
            for a in acts:
                got.setdefault(a, set()).update(res)
        expect(all(s["Effect"] == "Allow" for s in doc["Statement"]), "unexpected effect")
        for a, res in got.items():
            expect(a in want, f"{role}: {a} is not needed")
            expect(res == want[a], f"{role}: {a} on {sorted(res)}, want {sorted(want[a])}")
        expect(set(got) == set(want), f"{role}: missing {sorted(set(want) - set(got))}")
        list_cond = [s for s in doc["Statement"] if s["Action"] == "s3:ListBucket" or s["Action"] == ["s3:ListBucket"]]
        prefixes = list_cond[0]["Condition"]["StringLike"]["s3:prefix"]
        prefixes = prefixes if isinstance(prefixes, list) else [prefixes]
        # The operator writes PREFIX/NAMESPACE/POLICY/... with PREFIX "backups" unless a policy names another.
        expect(sorted(prefixes) == sorted([f"backups/{NAMESPACE}/", f"backups/{NAMESPACE}/*"]), f"{role}: ListBucket prefixes {prefixes}")
        return f"{len(got)} actions"

    bucket_arn = lambda: f"arn:aws:s3:::{out['backup_bucket']}"
    objects = lambda: {f"{bucket_arn()}/backups/{NAMESPACE}/*"}
    key = lambda: {out["backup_kms_key_arn"]}

    @check("IRSA operator role: trusts only salespot-system:salespot-operator; only the operator's S3 and Route53 calls")
    def _():
        zone_arn = {f"arn:aws:route53:::hostedzone/{out['hosted_zone_id']}"}
        return role_check(f"{NAME}-operator", "system:serviceaccount:salespot-system:salespot-operator", f"{NAME}-operator", {
            "s3:ListBucket": {bucket_arn()}, "s3:ListBucketMultipartUploads": {bucket_arn()},
            "s3:GetObject": objects(), "s3:DeleteObject": objects(), "s3:AbortMultipartUpload": objects(),
            "kms:Decrypt": key(),
            "route53:ListResourceRecordSets": zone_arn, "route53:ChangeResourceRecordSets": zone_arn,
            "route53:GetChange": {"arn:aws:route53:::change/*"},
        })

    @check("IRSA backup-runner role: trusts only salespot-dev:salespot-backup-runner; writes and reads its namespace's keys")
    def _():
        return role_check(f"{NAME}-backup-runner", f"system:serviceaccount:{NAMESPACE}:salespot-backup-runner", f"{NAME}-backup-runner", {
            "s3:ListBucket": {bucket_arn()}, "s3:PutObject": objects(), "s3:GetObject": objects(),
            "s3:AbortMultipartUpload": objects(), "kms:GenerateDataKey": key(), "kms:Decrypt": key(),
        })

    def topics(region):
        return [t["TopicArn"] for t in c("sns", region).list_topics()["Topics"]]

    @check("SNS: alerts topics (eu-west-1, us-east-1) KMS-encrypted with alerts@salespot.by; no DR topic in dev")
    def _():
        all_topics = topics(PRIMARY) + topics(GLOBAL) + topics(SECONDARY)
        expect(not [t for t in all_topics if "dr-alerts" in t], f"DR topic in dev: {all_topics}")
        for region, name in ((PRIMARY, f"{NAME}-alerts"), (GLOBAL, f"{NAME}-alerts-global")):
            sns = c("sns", region)
            arn = [t for t in topics(region) if t.endswith(":" + name)]
            expect(len(arn) == 1, f"{name} in {region}: {arn}")
            attrs = sns.get_topic_attributes(TopicArn=arn[0])["Attributes"]
            expect(attrs.get("KmsMasterKeyId"), f"{name} not encrypted")
            subs = sns.list_subscriptions_by_topic(TopicArn=arn[0])["Subscriptions"]
            expect([(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "alerts@salespot.by")], f"{name} subs {subs}")
            state[f"topic-{region}"] = arn[0]

    def alarm(region, name):
        a = c("cloudwatch", region).describe_alarms(AlarmNames=[f"{NAME} {name}"])["MetricAlarms"]
        expect(len(a) == 1, f"alarm {NAME} {name} missing in {region}")
        return a[0]

    @check("CloudWatch alarms: API High CPU/Memory, RDS High CPU/Connections, ALB High 5XX (eu-west-1)")
    def _():
        want = {
            "API High CPU": ("ContainerInsights", "pod_cpu_utilization_over_pod_limit", 80.0),
            "API High Memory": ("ContainerInsights", "pod_memory_utilization_over_pod_limit", 85.0),
            "RDS High CPU": ("AWS/RDS", "CPUUtilization", 80.0),
            "RDS High Connections": ("AWS/RDS", "DatabaseConnections", 60.0),
        }
        for name, (ns, metric, threshold) in want.items():
            a = alarm(PRIMARY, name)
            expect((a["Namespace"], a["MetricName"], a["Threshold"]) == (ns, metric, threshold), f"{name}: {a['Namespace']} {a['MetricName']} {a['Threshold']}")
            expect(a["AlarmActions"] == [state[f"topic-{PRIMARY}"]], f"{name} actions {a['AlarmActions']}")
            dims = {d["Name"]: d["Value"] for d in a["Dimensions"]}
            if ns == "AWS/RDS":
                expect(dims == {"DBInstanceIdentifier": f"{NAME}-postgres"}, f"{name} {dims}")
            else:
                # The API's Service as the blue/green sample names it (Container Insights' Service dimension).
                expect(dims == {"ClusterName": NAME, "Namespace": NAMESPACE, "Service": "api"}, f"{name} {dims}")
        a = alarm(PRIMARY, "ALB High 5XX")
        metrics = {m["MetricStat"]["Metric"]["MetricName"] for m in a["Metrics"] if "MetricStat" in m}
        expect(metrics == {"HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"} and a["Threshold"] == 50.0, f"5XX {metrics} {a['Threshold']}")

    @check("CloudWatch alarms in us-east-1: DR Primary Unhealthy on the health check, billing")
    def _():
        a = alarm(GLOBAL, "DR Primary Unhealthy")
        dims = {d["Name"]: d["Value"] for d in a["Dimensions"]}
        expect((a["Namespace"], a["MetricName"], a["ComparisonOperator"]) == ("AWS/Route53", "HealthCheckStatus", "LessThanThreshold"), f"{a['MetricName']}")
        expect(dims == {"HealthCheckId": state["hc"]}, f"dims {dims}")
        expect(a["AlarmActions"] == [state[f"topic-{GLOBAL}"]], f"actions {a['AlarmActions']} (dev: no DR topic)")
        b = alarm(GLOBAL, "Billing Estimated Charges")
        expect((b["Namespace"], b["MetricName"], b["Threshold"]) == ("AWS/Billing", "EstimatedCharges", 300.0), f"billing {b['Threshold']}")

    @check("CloudWatch dashboard")
    def _():
        body = json.loads(c("cloudwatch").get_dashboard(DashboardName=NAME)["DashboardBody"])
        expect(len(body["widgets"]) == 5, f"{len(body['widgets'])} widgets")

    @check("Secrets Manager: Redis AUTH token secret, KMS-encrypted")
    def _():
        s = c("secretsmanager").describe_secret(SecretId=f"{NAME}/redis-auth-token")
        expect(s.get("KmsKeyId"), "no KMS key")

    @check("KMS: every customer key rotates (eu-west-1, eu-central-1, us-east-1)")
    def _():
        n = 0
        for region in (PRIMARY, SECONDARY, GLOBAL):
            kms = c("kms", region)
            for k in kms.list_keys()["Keys"]:
                md = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
                if md["KeyManager"] != "CUSTOMER" or md["KeyState"] != "Enabled":
                    continue
                n += 1
                expect(kms.get_key_rotation_status(KeyId=k["KeyId"])["KeyRotationEnabled"], f"{md['Description']} does not rotate")
        # logs, EKS secrets, EBS, RDS, Redis, backups, backup replica, SNS (eu-west-1), SNS (us-east-1)
        expect(n == 9, f"{n} customer keys, want 9")
        return f"{n} keys"


def destroyed(c):
    @check("no VPC of dev left")
    def _():
        vpcs = c("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Vpcs"]
        expect(not vpcs, f"{[v['VpcId'] for v in vpcs]}")

    @check("no EKS cluster left")
    def _():
        expect(not c("eks").list_clusters()["clusters"], "clusters remain")

    @check("no RDS instance, ElastiCache group or load balancer left")
    def _():
        expect(not c("rds").describe_db_instances()["DBInstances"], "DB instances remain")
        # moto never completes a replication group's deletion: "deleting" is as far as it goes.
        groups = [(g["ReplicationGroupId"], g["Status"]) for g in c("elasticache").describe_replication_groups()["ReplicationGroups"]]
        expect(all(s == "deleting" for _, s in groups), f"replication groups remain: {groups}")
        expect(not c("elbv2").describe_load_balancers()["LoadBalancers"], "load balancers remain")

    @check("no bucket, zone or IAM role of dev left")
    def _():
        buckets = [b["Name"] for b in c("s3").list_buckets()["Buckets"] if b["Name"].startswith(NAME)]
        expect(not buckets, f"buckets {buckets}")
        zones = [z["Name"] for z in c("route53").list_hosted_zones()["HostedZones"]]
        expect(f"{ZONE}." not in zones, f"zones {zones}")
        roles = [r["RoleName"] for r in c("iam").list_roles()["Roles"] if r["RoleName"].startswith(NAME)]
        expect(not roles, f"roles {roles}")

    @check("no alarms or topics of dev left")
    def _():
        for region in (PRIMARY, GLOBAL):
            al = [a["AlarmName"] for a in c("cloudwatch", region).describe_alarms(AlarmNamePrefix=NAME)["MetricAlarms"]]
            expect(not al, f"{region} alarms {al}")
            tp = [t["TopicArn"] for t in c("sns", region).list_topics()["Topics"] if NAME in t["TopicArn"]]
            expect(not tp, f"{region} topics {tp}")


if __name__ == "__main__":
    main()
