#!/usr/bin/env python3
"""Fills two gaps of moto server so the real ElastiCache replication group can be applied and destroyed.

moto's CreateReplicationGroup lists member clusters (<group>-001, ...) that it never creates, and the AWS provider
reads the first member (DescribeCacheClusters) after every create and refresh, failing with CacheClusterNotFound.
`seed` creates those member cache-cluster records (as ElastiCache would) before the apply; `cleanup` removes them
after the destroy. Everything else of the group (encryption at rest and in transit, KMS key, AUTH token, subnet
group, security group) is the provider's real request, checked by check_dev.py.

moto's DeleteReplicationGroup leaves the group in status "deleting" for ever, so the provider's destroy would wait
out its 45-minute timeout. `delete-group` sends the same DeleteReplicationGroup before the destroy and checks the
group went to "deleting"; moto also lacks DeleteCacheSubnetGroup. The test drops both from the state (terraform
state rm) and destroys the rest.

    moto_shims.py seed ENDPOINT GROUP_ID NODE_TYPE ENGINE_VERSION COUNT
    moto_shims.py delete-group ENDPOINT GROUP_ID
    moto_shims.py cleanup ENDPOINT
"""
import sys

import boto3


def client(endpoint):
    return boto3.client("elasticache", region_name="eu-west-1", endpoint_url=endpoint,
                        aws_access_key_id="test", aws_secret_access_key="test")


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "seed":
        _, _, endpoint, group, node_type, version, count = sys.argv
        ec = client(endpoint)
        for i in range(1, int(count) + 1):
            ec.create_cache_cluster(CacheClusterId=f"{group}-{i:03d}", Engine="redis", EngineVersion=version,
                                    CacheNodeType=node_type, NumCacheNodes=1,
                                    TransitEncryptionEnabled=True)
    elif len(sys.argv) == 4 and sys.argv[1] == "delete-group":
        ec = client(sys.argv[2])
        status = ec.delete_replication_group(ReplicationGroupId=sys.argv[3])["ReplicationGroup"]["Status"]
        if status != "deleting":
            sys.exit(f"replication group {sys.argv[3]}: {status} after DeleteReplicationGroup")
        print(f"replication group {sys.argv[3]}: {status}")
    elif len(sys.argv) == 3 and sys.argv[1] == "cleanup":
        ec = client(sys.argv[2])
        for cl in ec.describe_cache_clusters()["CacheClusters"]:
            ec.delete_cache_cluster(CacheClusterId=cl["CacheClusterId"])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
