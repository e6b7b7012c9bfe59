"""What the two hand-written baselines (straight_line.py, floor.py) share: their arguments, the names and parameters of
every AWS call (the same ones xacct makes for a fresh setup, from `xacct setup --dry-run --output json`), and the
comparison a no-op re-run / status makes. No plan, no state file: the names are derived from the deployment name, as
xacct's are (xacct_dataapi.config.Names), and the policy documents come from xacct_dataapi.policies (pure functions),
so the baselines write byte-for-byte the documents xacct writes.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from typing import Any

from botocore.exceptions import ClientError

from xacct_dataapi import policies
from xacct_dataapi.config import Names

TAG_DEPLOYMENT, TAG_MANAGED, TAG_ENABLED_BY = "xacct:deployment", "xacct:managed-by", "xacct:data-api-enabled-by"
TAG_CONNECTION, MEMBER_TAG = "xacct:connection", "xacct:member:"
INVALID_PRINCIPAL = ("MalformedPolicyDocumentException", "MalformedPolicyDocument", "InvalidParameterValue")


def parse_args(argv: list[str] | None = None, poll: float = 0.5) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=("setup", "check", "teardown"))
    p.add_argument("--name", required=True)
    p.add_argument("--provider-profile", required=True)
    p.add_argument("--consumer-profile", required=True)
    p.add_argument("--cluster", required=True)
    p.add_argument("--vpc", required=True)
    p.add_argument("--subnets", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--db-user", default="app_user")
    p.add_argument("--poll", type=float, default=poll, help="seconds between polls of a wait")
    a = p.parse_args(argv)
    a.subnets = a.subnets.split(",")
    a.password = os.environ.get("XACCT_DB_PASSWORD", "")
    return a


class N:
    """Names and tags of one deployment (as xacct names them)."""

    def __init__(self, deployment: str):
        n = Names(deployment)
        self.deployment = deployment
        self.alias, self.secret, self.role, self.role_policy = n.key_alias, n.secret, n.access_role, n.access_role_policy
        self.user, self.user_policy, self.sg, self.endpoint = n.consumer_user, n.consumer_policy, n.security_group, n.endpoint
        self.tags = {TAG_DEPLOYMENT: deployment, TAG_MANAGED: "xacct"}


def tag_list(tags: dict, k: str = "Key", v: str = "Value") -> list[dict]:
    return [{k: key, v: value} for key, value in tags.items()]


def tag_dict(tags: list | None) -> dict:
    return {t.get("Key", t.get("TagKey")): t.get("Value", t.get("TagValue")) for t in tags or []}


def service_name(region: str) -> str:
    return f"com.amazonaws.{region}.rds-data"


def https_rule(cidr: str, description: str) -> dict:
    return {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": cidr, "Description": description}]}


def ingress(a, cidr: str) -> dict:
    return https_rule(cidr, f"HTTPS to the rds-data endpoint from {a.vpc}'s clients")


def egress(cidr: str) -> dict:
    return https_rule(cidr, "HTTPS to the clients only")


ALL_EGRESS = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def secret_fields(a, cluster: dict) -> tuple[str, str]:
    """(SecretString, connection tag) as xacct builds them (context.secret_fields / secret_string)."""
    engine = "postgres" if "postgres" in cluster["Engine"] else "mysql"
    dbname = cluster.get("DatabaseName") or ("postgres" if engine == "postgres" else "mysql")
    host, port = cluster["Endpoint"], cluster["Port"]
    string = json.dumps({"username": a.db_user, "password": a.password, "engine": engine, "host": host, "port": port,
                         "dbname": dbname})
    return string, f"{a.db_user}@{host}:{port}/{dbname}"


def role_arn(provider: str, n: N) -> str:
    return policies.role_arn(provider, n.role)


def external_id() -> str:
    return f"xacct-{secrets.token_hex(16)}"


# -- the parameters of each write (setup)

def tag_cluster(n: N, cluster_arn: str) -> dict:
    return {"ResourceName": cluster_arn, "Tags": [{"Key": TAG_ENABLED_BY, "Value": n.deployment}]}


def create_sg(a, n: N) -> dict:
    return {"GroupName": n.sg, "VpcId": a.vpc, "Description": f"xacct {n.deployment}: HTTPS to the rds-data endpoint",
            "TagSpecifications": [{"ResourceType": "security-group", "Tags": tag_list({**n.tags, "Name": n.sg})}]}


def create_endpoint(a, n: N, sg_id: str, provider: str, cluster_arn: str) -> dict:
    member = {MEMBER_TAG + n.deployment: f"{role_arn(provider, n)} {cluster_arn}"}
    doc = policies.endpoint_policy_for_clusters([(role_arn(provider, n), cluster_arn)])  # its one role, exactly
    return {"VpcEndpointType": "Interface", "VpcId": a.vpc, "ServiceName": service_name(a.region),
            "SubnetIds": list(a.subnets), "PrivateDnsEnabled": True, "SecurityGroupIds": [sg_id],
            "PolicyDocument": json.dumps(doc),
            "TagSpecifications": [{"ResourceType": "vpc-endpoint",
                                   "Tags": tag_list({**n.tags, "Name": n.endpoint, **member})}]}


def create_key(n: N) -> dict:
    return {"Description": f"xacct {n.deployment}: encrypts the Data API DB credentials secret",
            "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT", "Tags": tag_list(n.tags, "TagKey", "TagValue")}


def key_policy(a, n: N, provider: str) -> dict:
    return policies.key_policy(provider, role_arn(provider, n), a.region)


def create_user(n: N) -> dict:
    return {"UserName": n.user, "Tags": tag_list(n.tags)}


def user_policy(n: N, provider: str) -> dict:
    return policies.consumer_assume_policy(role_arn(provider, n))


def create_secret(a, n: N, cluster: dict, key_arn: str) -> dict:
    string, connection = secret_fields(a, cluster)
    return {"Name": n.secret, "Description": f"xacct {n.deployment}: Data API credentials for {a.cluster}",
            "KmsKeyId": key_arn, "SecretString": string, "Tags": tag_list({**n.tags, TAG_CONNECTION: connection})}


def trust(consumer: str, n: N, ext: str) -> dict:
    return policies.access_role_trust_policy(consumer, policies.user_arn(consumer, n.user), ext)


def create_role(a, n: N, consumer: str, ext: str) -> dict:
    return {"RoleName": n.role, "AssumeRolePolicyDocument": json.dumps(trust(consumer, n, ext)), "MaxSessionDuration": 3600,
            "Description": f"xacct {n.deployment}: consumer {consumer} runs Data API statements on {a.cluster}",
            "Tags": tag_list(n.tags)}


def role_policy(a, cluster_arn: str, secret_arn: str, key_arn: str) -> dict:
    return policies.access_role_permissions(cluster_arn, secret_arn, key_arn, a.region)


def secret_policy(provider: str, n: N, secret_arn: str) -> dict:
    return policies.secret_resource_policy(role_arn(provider, n), secret_arn)


def retry_principal(fn, *args: Any, poll: float = 0.5, **kwargs: Any) -> Any:
    """A call naming a brand-new IAM principal, retried while AWS calls it invalid (IAM propagation; only with the
    sandbox's principal_delay_s > 0 — the benchmark's default is 0)."""
    while True:
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in INVALID_PRINCIPAL or "rincipal" not in str(exc):
                raise
            time.sleep(poll)


def endpoint_filters(a, n: N) -> list[dict]:
    return [{"Name": "vpc-id", "Values": [a.vpc]}, {"Name": "service-name", "Values": [service_name(a.region)]},
            {"Name": f"tag:{TAG_DEPLOYMENT}", "Values": [n.deployment]}]


def sg_filters(a, n: N) -> list[dict]:
    return [{"Name": "vpc-id", "Values": [a.vpc]}, {"Name": "group-name", "Values": [n.sg]}]


def other_deployments(roles: list[dict], n: N) -> list[str]:
    """Other xacct deployments' access roles (xacct's teardown reads their policies before turning the Data API off;
    with none, nothing more is read)."""
    return [r["RoleName"] for r in roles if r["RoleName"].startswith("xacct-") and r["RoleName"].endswith("-data-api-access")
            and r["RoleName"] != n.role]


# -- the no-op re-run / status: read what setup made and compare

def _rules(perms: list[dict]) -> set:
    return {(p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), r.get("CidrIp"))
            for p in perms or [] for r in p.get("IpRanges", [])}


def compare(a, n: N, r: dict) -> list[str]:
    """What differs from what setup makes, given every read (keys as the scripts name them). Empty: all done."""
    problems = []
    consumer, provider = r["sts_consumer"]["Account"], r["sts_provider"]["Account"]
    cluster = r["cluster"]["DBClusters"][0]
    cidr = r["vpc"]["Vpcs"][0]["CidrBlock"]
    if not cluster.get("HttpEndpointEnabled"):
        problems.append("Data API off")
    if tag_dict(cluster.get("TagList")).get(TAG_ENABLED_BY) != n.deployment:
        problems.append("cluster tag")
    sgs = r["sg"]["SecurityGroups"]
    if not sgs or _rules(sgs[0].get("IpPermissions")) != _rules([ingress(a, cidr)]) \
            or _rules(sgs[0].get("IpPermissionsEgress")) != _rules([egress(cidr)]):
        problems.append("security group")
    eps = r["endpoint"]["VpcEndpoints"]
    if not eps or eps[0]["State"].lower() != "available" or set(eps[0]["SubnetIds"]) != set(a.subnets) \
            or not eps[0].get("PrivateDnsEnabled") or not sgs \
            or {g["GroupId"] for g in eps[0].get("Groups", [])} != {sgs[0]["GroupId"]} \
            or not policies.equal(eps[0].get("PolicyDocument") or "{}",
                                  policies.endpoint_policy_for_clusters([(role_arn(provider, n), cluster["DBClusterArn"])])):
        problems.append("endpoint")
    key = r["key"]["KeyMetadata"]
    if key.get("KeyState") != "Enabled":
        problems.append("key")
    if not policies.equal(r["key_policy"]["Policy"], key_policy(a, n, provider)):
        problems.append("key policy")
    secret = r["secret"]
    string, connection = secret_fields(a, cluster)
    if secret.get("KmsKeyId") not in (key["Arn"], key["KeyId"], n.alias) \
            or tag_dict(secret.get("Tags")).get(TAG_CONNECTION) != connection or secret.get("DeletedDate"):
        problems.append("secret")
    if not policies.equal(r["secret_policy"].get("ResourcePolicy") or "{}", secret_policy(provider, n, secret["ARN"])):
        problems.append("secret policy")
    role = r["role"]["Role"]
    have_trust = policies.parse(role.get("AssumeRolePolicyDocument") or "{}")
    ext = next((s.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId") for s in have_trust.get("Statement", [])),
               None)
    if not ext or not policies.equal(have_trust, trust(consumer, n, ext)):
        problems.append("role trust")
    if not policies.equal(r["role_policy"]["PolicyDocument"], role_policy(a, cluster["DBClusterArn"], secret["ARN"], key["Arn"])):
        problems.append("role policy")
    if tag_dict(r["user"]["User"].get("Tags")).get(TAG_DEPLOYMENT) != n.deployment:
        problems.append("user")
    if not policies.equal(r["user_policy"]["PolicyDocument"], user_policy(n, provider)):
        problems.append("user policy")
    return problems


def report(problems: list[str]) -> None:
    print(json.dumps({"all_done": not problems, "problems": problems}))
    sys.exit(1 if problems else 0)
