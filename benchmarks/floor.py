"""The floor: the straight-line script's calls (benchmarks/straight_line.py, same parameters, same documents) as a
dependency graph, run concurrently. Each call starts as soon as every value it needs is known (one thread per call
in flight), and each wait is polled every 50 ms. No tool that makes these calls can finish sooner against the same
AWS: the floor is a lower bound, not a design to copy (it does no discovery and orders nothing that AWS does not
force). Like any tool's state file, its setup writes down the ids it got (.floor/NAME.json in the working
directory): its check then reads the key policy at once (not after DescribeKey), and its teardown deletes by id
(no DescribeVpcEndpoints, DescribeKey or DescribeDBClusters first). Without that file it reads them.

Usage: python benchmarks/floor.py setup|check|teardown --name N --provider-profile P --consumer-profile C
         --cluster ID --vpc VPC --subnets S1,S2 --region R [--poll SECONDS]   (DB password: XACCT_DB_PASSWORD)

The dependencies (→ "needs"):
  setup:    sts×2, DescribeDBClusters, DescribeVpcs, CreateSecurityGroup, CreateKey, CreateUser: nothing (depth 1);
            AddTagsToResource, EnableHttpEndpoint → the cluster (its ARN; and that the Data API is off);
            Authorize ingress/egress → the group and the VPC's CIDR; RevokeSecurityGroupEgress → the group;
            CreateVpcEndpoint → the group, the cluster's ARN, the provider's id (its policy names the access role);
            CreateAlias, PutKeyPolicy → the key (and the provider's id); PutUserPolicy → the user, the provider's id;
            CreateSecret → the key's ARN, the cluster (host, port, database); CreateRole → the consumer's id;
            PutRolePolicy → the role, the secret's and key's ARNs, the cluster's ARN;
            PutResourcePolicy → the secret, the role (AWS refuses a principal that does not exist);
            the endpoint wait → CreateVpcEndpoint; the Data API wait → EnableHttpEndpoint.
  check:    every read at once (without the state file: GetKeyPolicy → DescribeKey, as it takes a key id, not an
            alias).
  teardown: DeleteVpcEndpoints, the IAM policy deletions, DeleteSecret, DeleteAlias, UntagResource, ListRoles at once;
            DeleteRole/DeleteUser → their policy's deletion; the endpoint wait → DeleteVpcEndpoints;
            DeleteSecurityGroup → the endpoint gone; ScheduleKeyDeletion → UntagResource; DisableHttpEndpoint,
            RemoveTagsFromResource → no other deployment's role names the cluster (ListRoles, GetRolePolicy of each
            other xacct role); the Data API wait → DisableHttpEndpoint. (Without the state file the ids come from
            DescribeVpcEndpoints, DescribeKey and DescribeDBClusters first.)
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline as b  # noqa: E402

POOL = ThreadPoolExecutor(max_workers=32)


class Clients:
    """boto3 clients, made in the main thread (a boto3 Session is not thread-safe) while the first calls already run:
    a call waits only for its own client."""

    ORDER = {  # the clients each command uses, in the order its first calls need them
        "setup": (("c", "sts"), ("p", "sts"), ("p", "rds"), ("c", "ec2"), ("p", "kms"), ("c", "iam"), ("p", "secretsmanager"),
                  ("p", "iam")),
        "check": (("c", "sts"), ("p", "sts"), ("p", "rds"), ("c", "ec2"), ("p", "kms"), ("p", "secretsmanager"),
                  ("p", "iam"), ("c", "iam")),
        "teardown": (("c", "ec2"), ("p", "iam"), ("p", "secretsmanager"), ("c", "iam"), ("p", "kms"), ("p", "rds")),
    }

    def __init__(self, a):
        self.a = a
        self.order = self.ORDER[a.command]
        self.made: dict[tuple[str, str], Future] = {k: Future() for k in self.order}

    def make_all(self) -> None:
        cfg = Config(max_pool_connections=32)
        consumer_core, provider_core = botocore.session.Session(), botocore.session.Session()
        # One loader for both accounts: each service's model files are parsed once (as xacct does).
        provider_core.register_component("data_loader", consumer_core.get_component("data_loader"))
        sessions = {"c": boto3.session.Session(profile_name=self.a.consumer_profile, region_name=self.a.region,
                                               botocore_session=consumer_core),
                    "p": boto3.session.Session(profile_name=self.a.provider_profile, region_name=self.a.region,
                                               botocore_session=provider_core)}
        for account, service in self.order:
            self.made[(account, service)].set_result(sessions[account].client(service, config=cfg))

    def __call__(self, account: str, service: str) -> Any:
        return self.made[(account, service)].result()


def task(fn: Callable[..., Any], *needs: Future) -> Future:
    """Run fn(*results of needs) as soon as every need is done."""
    return POOL.submit(lambda: fn(*[f.result() for f in needs]))


def done(*futures: Future) -> Future:
    return task(lambda *_: None, *futures)


def poll(read: Callable[[], bool], interval: float) -> None:
    while not read():
        time.sleep(interval)


def state_path(n) -> Path:
    return Path(".floor") / f"{n.deployment}.json"


def load_state(n) -> dict:
    """The ids the floor's setup wrote down (what any tool's state file would hold), or {} without one."""
    try:
        return json.loads(state_path(n).read_text())
    except (OSError, ValueError):
        return {}


def main() -> None:
    import gc

    from xacct_dataapi import GC_THRESHOLDS  # xacct's own (cli.main): no tool need pay for collections at start-up

    gc.set_threshold(*GC_THRESHOLDS)
    a = b.parse_args(poll=0.05)
    n = b.N(a.name)
    C = Clients(a)
    final = {"setup": setup, "check": check, "teardown": teardown}[a.command](a, n, C)
    C.make_all()
    result = final.result()
    if a.command == "setup":
        state_path(n).parent.mkdir(exist_ok=True)
        state_path(n).write_text(json.dumps(result))
    elif a.command == "teardown":
        state_path(n).unlink(missing_ok=True)
    else:
        b.report(result)


def setup(a, n, C) -> Future:
    consumer = task(lambda: C("c", "sts").get_caller_identity()["Account"])
    provider = task(lambda: C("p", "sts").get_caller_identity()["Account"])
    cluster = task(lambda: C("p", "rds").describe_db_clusters(DBClusterIdentifier=a.cluster)["DBClusters"][0])
    cidr = task(lambda: C("c", "ec2").describe_vpcs(VpcIds=[a.vpc])["Vpcs"][0]["CidrBlock"])

    tagged = task(lambda c: C("p", "rds").add_tags_to_resource(**b.tag_cluster(n, c["DBClusterArn"])), cluster)
    enabled = task(lambda c: c.get("HttpEndpointEnabled") or C("p", "rds").enable_http_endpoint(ResourceArn=c["DBClusterArn"]),
                   cluster)
    data_api_on = task(lambda _: poll(lambda: C("p", "rds").describe_db_clusters(DBClusterIdentifier=a.cluster)
                                      ["DBClusters"][0].get("HttpEndpointEnabled"), a.poll), enabled)

    sg = task(lambda: C("c", "ec2").create_security_group(**b.create_sg(a, n))["GroupId"])
    rules = [
        task(lambda g, cidr: C("c", "ec2").authorize_security_group_ingress(GroupId=g, IpPermissions=[b.ingress(a, cidr)]),
             sg, cidr),
        task(lambda g: C("c", "ec2").revoke_security_group_egress(GroupId=g, IpPermissions=[b.ALL_EGRESS]), sg),
        task(lambda g, cidr: C("c", "ec2").authorize_security_group_egress(GroupId=g, IpPermissions=[b.egress(cidr)]),
             sg, cidr),
    ]
    endpoint = task(lambda g, p, c: C("c", "ec2").create_vpc_endpoint(**b.create_endpoint(a, n, g, p, c["DBClusterArn"]))
                    ["VpcEndpoint"]["VpcEndpointId"], sg, provider, cluster)
    endpoint_up = task(lambda e: poll(lambda: C("c", "ec2").describe_vpc_endpoints(VpcEndpointIds=[e])
                                      ["VpcEndpoints"][0]["State"].lower() == "available", a.poll), endpoint)

    key = task(lambda: C("p", "kms").create_key(**b.create_key(n))["KeyMetadata"])
    alias = task(lambda k: C("p", "kms").create_alias(AliasName=n.alias, TargetKeyId=k["KeyId"]), key)
    key_policy = task(lambda k, p: b.retry_principal(C("p", "kms").put_key_policy, KeyId=k["KeyId"], PolicyName="default",
                                                     Policy=json.dumps(b.key_policy(a, n, p)), poll=a.poll), key, provider)
    user = task(lambda: C("c", "iam").create_user(**b.create_user(n)))
    user_policy = task(lambda _, p: C("c", "iam").put_user_policy(UserName=n.user, PolicyName=n.user_policy,
                                                                   PolicyDocument=json.dumps(b.user_policy(n, p))), user, provider)
    secret = task(lambda c, k: C("p", "secretsmanager").create_secret(**b.create_secret(a, n, c, k["Arn"]))["ARN"], cluster, key)
    role = task(lambda co: b.retry_principal(C("p", "iam").create_role, **b.create_role(a, n, co, b.external_id()),
                                             poll=a.poll), consumer)
    role_policy = task(lambda _, c, s, k: C("p", "iam").put_role_policy(
        RoleName=n.role, PolicyName=n.role_policy, PolicyDocument=json.dumps(b.role_policy(a, c["DBClusterArn"], s, k["Arn"]))),
        role, cluster, secret, key)
    secret_policy = task(lambda s, _, p: b.retry_principal(
        C("p", "secretsmanager").put_resource_policy, SecretId=s, BlockPublicPolicy=True,
        ResourcePolicy=json.dumps(b.secret_policy(p, n, s)), poll=a.poll), secret, role, provider)
    ids = task(lambda c, g, e, k, s: {"cluster_arn": c["DBClusterArn"], "security_group_id": g, "endpoint_id": e,
                                       "key_id": k["KeyId"], "key_arn": k["Arn"], "secret_arn": s},
               cluster, sg, endpoint, key, secret)
    return task(lambda i, *_: i, ids, tagged, data_api_on, *rules, endpoint_up, alias, key_policy, user_policy, role_policy,
                secret_policy)


def check(a, n, C) -> Future:
    reads = {
        "sts_consumer": task(lambda: C("c", "sts").get_caller_identity()),
        "sts_provider": task(lambda: C("p", "sts").get_caller_identity()),
        "cluster": task(lambda: C("p", "rds").describe_db_clusters(DBClusterIdentifier=a.cluster)),
        "vpc": task(lambda: C("c", "ec2").describe_vpcs(VpcIds=[a.vpc])),
        "sg": task(lambda: C("c", "ec2").describe_security_groups(Filters=b.sg_filters(a, n))),
        "endpoint": task(lambda: C("c", "ec2").describe_vpc_endpoints(Filters=b.endpoint_filters(a, n))),
        "key": task(lambda: C("p", "kms").describe_key(KeyId=n.alias)),
        "secret": task(lambda: C("p", "secretsmanager").describe_secret(SecretId=n.secret)),
        "secret_policy": task(lambda: C("p", "secretsmanager").get_resource_policy(SecretId=n.secret)),
        "role": task(lambda: C("p", "iam").get_role(RoleName=n.role)),
        "role_policy": task(lambda: C("p", "iam").get_role_policy(RoleName=n.role, PolicyName=n.role_policy)),
        "user": task(lambda: C("c", "iam").get_user(UserName=n.user)),
        "user_policy": task(lambda: C("c", "iam").get_user_policy(UserName=n.user, PolicyName=n.user_policy)),
    }
    known = load_state(n).get("key_id")
    reads["key_policy"] = task(lambda k=None: C("p", "kms").get_key_policy(KeyId=known or k["KeyMetadata"]["KeyId"],
                                                                       PolicyName="default"),
                               *([] if known else [reads["key"]]))
    names = list(reads)
    return task(lambda *values: b.compare(a, n, dict(zip(names, values))), *reads.values())


def teardown(a, n, C) -> Future:
    state = load_state(n)

    def known(key: str, read: Callable[[], Any]) -> Future:
        """A value from the state file at once, else from AWS."""
        if key in state:
            f: Future = Future()
            f.set_result(state[key])
            return f
        return task(read)

    endpoint = task(lambda: C("c", "ec2").describe_vpc_endpoints(Filters=b.endpoint_filters(a, n))["VpcEndpoints"][0]) \
        if "endpoint_id" not in state else None
    endpoint_id = known("endpoint_id", lambda: endpoint.result()["VpcEndpointId"])
    group_id = known("security_group_id", lambda: endpoint.result()["Groups"][0]["GroupId"])
    deleted = task(lambda e: C("c", "ec2").delete_vpc_endpoints(VpcEndpointIds=[e]), endpoint_id)
    gone = task(lambda _: poll(lambda: not [e for e in C("c", "ec2").describe_vpc_endpoints(Filters=b.endpoint_filters(a, n))
                                            ["VpcEndpoints"] if e["State"].lower() != "deleted"], a.poll), deleted)

    def delete_group(g: str, _: Any) -> None:
        while True:
            try:
                C("c", "ec2").delete_security_group(GroupId=g)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "DependencyViolation":
                    raise
                time.sleep(a.poll)
    group = task(delete_group, group_id, gone)

    role_policy = task(lambda: C("p", "iam").delete_role_policy(RoleName=n.role, PolicyName=n.role_policy))
    role = task(lambda _: C("p", "iam").delete_role(RoleName=n.role), role_policy)
    secret = task(lambda: C("p", "secretsmanager").delete_secret(SecretId=n.secret, ForceDeleteWithoutRecovery=True))
    user_policy = task(lambda: C("c", "iam").delete_user_policy(UserName=n.user, PolicyName=n.user_policy))
    user = task(lambda _: C("c", "iam").delete_user(UserName=n.user), user_policy)
    key = known("key_id", lambda: C("p", "kms").describe_key(KeyId=n.alias)["KeyMetadata"]["KeyId"])
    alias = task(lambda: C("p", "kms").delete_alias(AliasName=n.alias))
    untagged = task(lambda k: C("p", "kms").untag_resource(KeyId=k, TagKeys=[b.TAG_DEPLOYMENT]), key)
    scheduled = task(lambda k, _: C("p", "kms").schedule_key_deletion(KeyId=k, PendingWindowInDays=7), key, untagged)

    # The Data API: off unless another deployment's access role names the cluster. With the state file the floor
    # knows it turned it on (setup recorded the cluster), so it reads the cluster only without one.
    cluster_arn = known("cluster_arn", lambda: C("p", "rds").describe_db_clusters(DBClusterIdentifier=a.cluster)
                        ["DBClusters"][0]["DBClusterArn"])
    roles = task(lambda: [r for page in C("p", "iam").get_paginator("list_roles").paginate() for r in page["Roles"]])
    in_use = task(lambda rs, arn: any(arn in json.dumps(C("p", "iam").get_role_policy(
        RoleName=name, PolicyName=name[:-len("-access")])["PolicyDocument"]) for name in b.other_deployments(rs, n)),
        roles, cluster_arn)
    disabled = task(lambda arn, used: not used and C("p", "rds").disable_http_endpoint(ResourceArn=arn), cluster_arn, in_use)
    untag_cluster = task(lambda arn, used: used or C("p", "rds").remove_tags_from_resource(
        ResourceName=arn, TagKeys=[b.TAG_ENABLED_BY]), cluster_arn, in_use)
    data_api_off = task(lambda d: d and poll(lambda: not C("p", "rds").describe_db_clusters(DBClusterIdentifier=a.cluster)
                                             ["DBClusters"][0].get("HttpEndpointEnabled"), a.poll), disabled)
    return done(group, role, secret, user, alias, scheduled, untag_cluster, data_api_off)


if __name__ == "__main__":
    main()
    # A lower bound: no interpreter shutdown at all. xacct's cli.main exits normally after gc.freeze(), measured at the
    # same cost (docs/benchmarks.md, Exit).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
