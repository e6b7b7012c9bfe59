"""What exists in each account, read through the test's own sessions: for "it exists" and "nothing left" checks."""
from __future__ import annotations

import boto3

from tests.helpers.accounts import (DEPLOYMENT, KEY_ALIAS, OPERATOR_USER, ROLE_NAME, ROLE_PATH, ROLE_POLICY, SECRET_NAME,
                                    SG_NAME, TAG, TEST_ADMIN_USER, USER_NAME, USER_POLICY, access_role_arn)


def client(session: boto3.Session, service: str):
    """One client per (test session, service): building a botocore client is the slowest part of these tests."""
    cache = session.__dict__.setdefault("_xacct_test_clients", {})
    if service not in cache:
        cache[service] = session.client(service)
    return cache[service]


def tags_of(items: list[dict] | None) -> dict[str, str]:
    """AWS tag lists ({Key, Value} or KMS's {TagKey, TagValue}) as a dict."""
    return {t.get("Key", t.get("TagKey")): t.get("Value", t.get("TagValue")) for t in items or []}


def customer_keys(provider: boto3.Session) -> list[dict]:
    """Every customer-managed KMS key in the provider account: KeyMetadata plus 'Tags' as a dict."""
    kms = client(provider, "kms")
    out = []
    for k in kms.list_keys()["Keys"]:
        meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") == "AWS":
            continue
        meta["Tags"] = tags_of(kms.list_resource_tags(KeyId=k["KeyId"]).get("Tags"))
        out.append(meta)
    return out


def live_keys(provider: boto3.Session) -> list[dict]:
    return [k for k in customer_keys(provider) if k["KeyState"] != "PendingDeletion"]


def secrets(provider: boto3.Session) -> list[dict]:
    return client(provider, "secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]


def roles(provider: boto3.Session) -> list[dict]:
    return client(provider, "iam").list_roles()["Roles"]


def users(consumer: boto3.Session) -> list[dict]:
    """The account's users but the test's own (tests/helpers/operators.py)."""
    return [u for u in client(consumer, "iam").list_users()["Users"]
            if u["UserName"] not in (TEST_ADMIN_USER, OPERATOR_USER)]


def xacct_security_groups(consumer: boto3.Session, vpc_id: str) -> list[dict]:
    """Every security group in the VPC except the VPC's default group."""
    groups = client(consumer, "ec2").describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [g for g in groups["SecurityGroups"] if g["GroupName"] != "default"]


def live_endpoints(consumer: boto3.Session, vpc_id: str) -> list[dict]:
    eps = client(consumer, "ec2").describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    return [e for e in eps if str(e.get("State", "")).lower() != "deleted"]


def data_api_on(world) -> bool:
    c = client(world.provider, "rds").describe_db_clusters(DBClusterIdentifier=world.cluster_id)["DBClusters"][0]
    return bool(c.get("HttpEndpointEnabled"))


def assert_exactly_one_deployment(world, state: dict) -> None:
    """Exactly the resources of one uninterrupted setup of DEPLOYMENT, each one the resource the state file records."""
    rows = {r["kind"]: r for r in state["resources"]}

    keys = live_keys(world.provider)
    assert len(keys) == 1, f"expected exactly one live customer-managed key, found {[k['KeyId'] for k in keys]}"
    key = keys[0]
    assert key["Enabled"] and key["KeyState"] == "Enabled"
    assert key["Tags"].get(TAG) == DEPLOYMENT
    assert rows["kms_key"]["id"] == key["KeyId"]
    assert state["values"]["key_arn"] == key["Arn"]
    alias = client(world.provider, "kms").describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]
    assert alias["KeyId"] == key["KeyId"], "the alias must point at the deployment's key"

    found = secrets(world.provider)
    assert [s["Name"] for s in found] == [SECRET_NAME]
    secret = client(world.provider, "secretsmanager").describe_secret(SecretId=SECRET_NAME)
    assert not secret.get("DeletedDate")
    assert secret["KmsKeyId"] in (key["Arn"], key["KeyId"]), "the secret must be encrypted with the deployment's key"
    assert tags_of(secret.get("Tags")).get(TAG) == DEPLOYMENT
    assert state["values"]["secret_arn"] == secret["ARN"]
    assert client(world.provider, "secretsmanager").get_resource_policy(SecretId=SECRET_NAME).get("ResourcePolicy")

    found_roles = roles(world.provider)
    assert [r["RoleName"] for r in found_roles] == [ROLE_NAME]
    iam = client(world.provider, "iam")
    role = iam.get_role(RoleName=ROLE_NAME)["Role"]
    assert tags_of(role.get("Tags")).get(TAG) == DEPLOYMENT
    assert (role["Path"], role["Arn"]) == (ROLE_PATH, access_role_arn())
    assert state["values"]["access_role_arn"] == role["Arn"]
    assert rows["iam_role"]["arn"] == role["Arn"]
    assert_policies_name_the_role(world, DEPLOYMENT, role["Arn"])
    trust = role["AssumeRolePolicyDocument"]
    ext_ids = [s["Condition"]["StringEquals"]["sts:ExternalId"] for s in trust["Statement"]
               if "sts:ExternalId" in s.get("Condition", {}).get("StringEquals", {})]
    assert ext_ids == [state["values"]["external_id"]], "the recorded external id must be the one the role trusts"
    assert iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"] == [ROLE_POLICY]

    found_users = users(world.consumer)
    assert [u["UserName"] for u in found_users] == [USER_NAME]
    assert client(world.consumer, "iam").list_user_policies(UserName=USER_NAME)["PolicyNames"] == [USER_POLICY]

    groups = xacct_security_groups(world.consumer, world.vpc_id)
    assert [g["GroupName"] for g in groups] == [SG_NAME]
    sg = groups[0]
    assert tags_of(sg.get("Tags")).get(TAG) == DEPLOYMENT
    assert rows["security_group"]["id"] == sg["GroupId"]
    ingress = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
               for p in sg["IpPermissions"] for r in p.get("IpRanges", [])}
    egress = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
              for p in sg["IpPermissionsEgress"] for r in p.get("IpRanges", [])}
    assert ingress == {("tcp", 443, 443, world.vpc_cidr)}
    assert egress == {("tcp", 443, 443, world.vpc_cidr)}, "the default allow-all egress must be gone"

    eps = live_endpoints(world.consumer, world.vpc_id)
    assert len(eps) == 1, f"expected exactly one live endpoint, found {[e['VpcEndpointId'] for e in eps]}"
    ep = eps[0]
    assert ep["ServiceName"].endswith(".rds-data")
    assert tags_of(ep.get("Tags")).get(TAG) == DEPLOYMENT
    assert rows["vpc_endpoint"]["id"] == ep["VpcEndpointId"]
    assert [g["GroupId"] for g in ep["Groups"]] == [sg["GroupId"]]
    assert sorted(ep["SubnetIds"]) == sorted(world.subnet_ids)

    assert data_api_on(world)


def assert_policies_name_the_role(world, deployment: str, role_arn: str, vpc_id: str | None = None) -> None:
    """The key, secret and consumer policies name the access role by this ARN (its path included), and by no other
    ARN of a role of that name (at `/`, before the path); the endpoint's policy admits it by its path's pattern."""
    import json
    from fnmatch import fnmatchcase

    from xacct_dataapi.config import Names
    from xacct_dataapi.steps.endpoint_members import read

    n = Names(deployment)
    stale = f":role/{n.access_role}"  # the same role at path `/` (the legacy ARN, unless that is role_arn)
    kms = client(world.provider, "kms")
    key_id = kms.describe_key(KeyId=n.key_alias)["KeyMetadata"]["KeyId"]
    key_policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    secret_policy = client(world.provider, "secretsmanager").get_resource_policy(SecretId=n.secret)["ResourcePolicy"]
    consumer_policy = json.dumps(client(world.consumer, "iam").get_user_policy(
        UserName=n.consumer_user, PolicyName=n.consumer_policy)["PolicyDocument"])
    ec2 = client(world.consumer, "ec2")
    found = [(e, read(ec2, e["VpcEndpointId"])[1]) for e in live_endpoints(world.consumer, vpc_id or world.vpc_id)]
    ep, members = next((e, m) for e, m in found if deployment in m)
    documents = {"key policy": key_policy, "secret policy": secret_policy, "consumer policy": consumer_policy}
    for what, text in documents.items():
        assert role_arn in text and (role_arn.endswith(stale) or stale not in text), f"the {what} must name {role_arn}: {text}"
    assert json.loads(key_policy)["Statement"][1]["Condition"]["ArnEquals"]["aws:PrincipalArn"] == role_arn
    assert json.loads(secret_policy)["Statement"][0]["Principal"]["AWS"] == role_arn
    # The member's facts hold the cluster ARN; the endpoint admits the access roles under that cluster's path.
    assert members[deployment].cluster_arn == world.cluster_arn
    patterns = [s["Condition"]["ArnLike"]["aws:PrincipalArn"] for s in json.loads(ep["PolicyDocument"])["Statement"]
                if s["Resource"] == world.cluster_arn]
    assert len(patterns) == 1 and fnmatchcase(role_arn, patterns[0]), (role_arn, patterns)


def assert_nothing_left(world) -> None:
    """After teardown: keys only pending deletion; no secret, role, user, xacct security group or live endpoint;
    the Data API off again."""
    keys = customer_keys(world.provider)
    assert keys and all(k["KeyState"] == "PendingDeletion" for k in keys), \
        [(k["KeyId"], k["KeyState"]) for k in keys]
    assert secrets(world.provider) == []
    assert roles(world.provider) == []
    assert users(world.consumer) == []
    assert xacct_security_groups(world.consumer, world.vpc_id) == []
    assert live_endpoints(world.consumer, world.vpc_id) == []
    assert not data_api_on(world), "xacct turned the Data API on (--enable-data-api), so teardown turns it off"
