"""The straight-line baseline: the setup a careful engineer writes by hand as one plain, sequential boto3 script.

Usage: python benchmarks/straight_line.py setup|check|teardown --name N --provider-profile P --consumer-profile C
         --cluster ID --vpc VPC --subnets S1,S2 --region R [--poll SECONDS]   (DB password: XACCT_DB_PASSWORD)

- setup: the same writes, with the same parameters and documents, that `xacct setup` makes for a fresh deployment,
  one after another, with only the reads they need (both accounts' ids, the cluster, the VPC's CIDR). "Careful":
  the two slow AWS-side changes (the Data API switch, the interface endpoint) are started early and their waits come
  last, polled one after the other every --poll seconds (default 0.5 s). No plan, no state file, no checks of what
  already exists: it only works on a fresh deployment.
- check: the straight-line counterpart of a no-op re-run and of `xacct status`: read everything setup made, one
  read after another, and compare it with what setup writes. Prints {"all_done": ..., "problems": [...]}.
- teardown: the matching teardown (same deletions as `xacct teardown`, including turning the Data API back off
  unless another deployment's access role exists, and waiting until it is off), one call after another.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline as b  # noqa: E402


def main() -> None:
    a = b.parse_args()
    n = b.N(a.name)
    consumer = boto3.session.Session(profile_name=a.consumer_profile, region_name=a.region)
    provider = boto3.session.Session(profile_name=a.provider_profile, region_name=a.region)
    {"setup": setup, "check": check, "teardown": teardown}[a.command](a, n, consumer, provider)


def setup(a, n, consumer, provider) -> None:
    c_sts, p_sts = consumer.client("sts"), provider.client("sts")
    rds, ec2 = provider.client("rds"), consumer.client("ec2")
    kms, sm, p_iam, c_iam = provider.client("kms"), provider.client("secretsmanager"), provider.client("iam"), consumer.client("iam")

    consumer_id = c_sts.get_caller_identity()["Account"]
    provider_id = p_sts.get_caller_identity()["Account"]
    cluster = rds.describe_db_clusters(DBClusterIdentifier=a.cluster)["DBClusters"][0]
    cluster_arn = cluster["DBClusterArn"]
    cidr = ec2.describe_vpcs(VpcIds=[a.vpc])["Vpcs"][0]["CidrBlock"]

    # The slow ones first: the Data API switch and the endpoint settle while the rest is written.
    rds.add_tags_to_resource(**b.tag_cluster(n, cluster_arn))
    if not cluster.get("HttpEndpointEnabled"):
        rds.enable_http_endpoint(ResourceArn=cluster_arn)
    sg_id = ec2.create_security_group(**b.create_sg(a, n))["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg_id, IpPermissions=[b.ingress(a, cidr)])
    ec2.revoke_security_group_egress(GroupId=sg_id, IpPermissions=[b.ALL_EGRESS])
    ec2.authorize_security_group_egress(GroupId=sg_id, IpPermissions=[b.egress(cidr)])
    endpoint_id = ec2.create_vpc_endpoint(**b.create_endpoint(a, n, sg_id, provider_id, cluster_arn))["VpcEndpoint"]["VpcEndpointId"]

    key = kms.create_key(**b.create_key(n))["KeyMetadata"]
    kms.create_alias(AliasName=n.alias, TargetKeyId=key["KeyId"])
    b.retry_principal(kms.put_key_policy, KeyId=key["KeyId"], PolicyName="default",
                      Policy=json.dumps(b.key_policy(a, n, provider_id)), poll=a.poll)
    c_iam.create_user(**b.create_user(n))
    c_iam.put_user_policy(UserName=n.user, PolicyName=n.user_policy, PolicyDocument=json.dumps(b.user_policy(n, provider_id)))
    secret_arn = sm.create_secret(**b.create_secret(a, n, cluster, key["Arn"]))["ARN"]
    b.retry_principal(p_iam.create_role, **b.create_role(a, n, consumer_id, b.external_id()), poll=a.poll)
    p_iam.put_role_policy(RoleName=n.role, PolicyName=n.role_policy,
                          PolicyDocument=json.dumps(b.role_policy(a, cluster_arn, secret_arn, key["Arn"])))
    b.retry_principal(sm.put_resource_policy, SecretId=secret_arn, BlockPublicPolicy=True,
                      ResourcePolicy=json.dumps(b.secret_policy(provider_id, n, secret_arn)), poll=a.poll)

    # The waits, one after the other.
    while ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["State"].lower() != "available":
        time.sleep(a.poll)
    while not rds.describe_db_clusters(DBClusterIdentifier=a.cluster)["DBClusters"][0].get("HttpEndpointEnabled"):
        time.sleep(a.poll)


def check(a, n, consumer, provider) -> None:
    c_sts, p_sts = consumer.client("sts"), provider.client("sts")
    rds, ec2 = provider.client("rds"), consumer.client("ec2")
    kms, sm, p_iam, c_iam = provider.client("kms"), provider.client("secretsmanager"), provider.client("iam"), consumer.client("iam")
    r = {}
    r["sts_consumer"] = c_sts.get_caller_identity()
    r["sts_provider"] = p_sts.get_caller_identity()
    r["cluster"] = rds.describe_db_clusters(DBClusterIdentifier=a.cluster)
    r["vpc"] = ec2.describe_vpcs(VpcIds=[a.vpc])
    r["sg"] = ec2.describe_security_groups(Filters=b.sg_filters(a, n))
    r["endpoint"] = ec2.describe_vpc_endpoints(Filters=b.endpoint_filters(a, n))
    r["key"] = kms.describe_key(KeyId=n.alias)
    r["key_policy"] = kms.get_key_policy(KeyId=r["key"]["KeyMetadata"]["KeyId"], PolicyName="default")
    r["secret"] = sm.describe_secret(SecretId=n.secret)
    r["secret_policy"] = sm.get_resource_policy(SecretId=n.secret)
    r["role"] = p_iam.get_role(RoleName=n.role)
    r["role_policy"] = p_iam.get_role_policy(RoleName=n.role, PolicyName=n.role_policy)
    r["user"] = c_iam.get_user(UserName=n.user)
    r["user_policy"] = c_iam.get_user_policy(UserName=n.user, PolicyName=n.user_policy)
    b.report(b.compare(a, n, r))


def teardown(a, n, consumer, provider) -> None:
    rds, ec2 = provider.client("rds"), consumer.client("ec2")
    kms, sm, p_iam, c_iam = provider.client("kms"), provider.client("secretsmanager"), provider.client("iam"), consumer.client("iam")

    endpoint = ec2.describe_vpc_endpoints(Filters=b.endpoint_filters(a, n))["VpcEndpoints"][0]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    p_iam.delete_role_policy(RoleName=n.role, PolicyName=n.role_policy)
    p_iam.delete_role(RoleName=n.role)
    sm.delete_secret(SecretId=n.secret, ForceDeleteWithoutRecovery=True)
    c_iam.delete_user_policy(UserName=n.user, PolicyName=n.user_policy)
    c_iam.delete_user(UserName=n.user)
    key_id = kms.describe_key(KeyId=n.alias)["KeyMetadata"]["KeyId"]
    kms.delete_alias(AliasName=n.alias)
    kms.untag_resource(KeyId=key_id, TagKeys=[b.TAG_DEPLOYMENT])
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    # The security group goes once the endpoint (and its network interfaces) are gone.
    while [e for e in ec2.describe_vpc_endpoints(Filters=b.endpoint_filters(a, n))["VpcEndpoints"]
           if e["State"].lower() != "deleted"]:
        time.sleep(a.poll)
    for group in endpoint.get("Groups", []):
        while True:
            try:
                ec2.delete_security_group(GroupId=group["GroupId"])
                break
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "DependencyViolation":
                    raise
                time.sleep(a.poll)
    # The Data API off again, unless another deployment's access role exists.
    cluster = rds.describe_db_clusters(DBClusterIdentifier=a.cluster)["DBClusters"][0]
    roles = [r for page in p_iam.get_paginator("list_roles").paginate() for r in page["Roles"]]
    if not [name for name in b.other_deployments(roles, n) if cluster["DBClusterArn"] in json.dumps(
            p_iam.get_role_policy(RoleName=name, PolicyName=name[:-len("-access")])["PolicyDocument"])]:
        if cluster.get("HttpEndpointEnabled"):
            rds.disable_http_endpoint(ResourceArn=cluster["DBClusterArn"])
        rds.remove_tags_from_resource(ResourceName=cluster["DBClusterArn"], TagKeys=[b.TAG_ENABLED_BY])
        while rds.describe_db_clusters(DBClusterIdentifier=a.cluster)["DBClusters"][0].get("HttpEndpointEnabled"):
            time.sleep(a.poll)


if __name__ == "__main__":
    main()
