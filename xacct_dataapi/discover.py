"""Rebuild a deployment's resource list from AWS alone (read calls only), for a teardown whose state
file was lost. Everything xacct creates carries a deterministic name and the xacct:deployment tag;
only resources that carry the tag are returned, in creation order, so plan_teardown can reverse them.

Not recoverable without the state file: which existing consumer role/user was adopted (its inline
policy `xacct-<name>-assume-data-api-access` is left in place and must be removed by hand), and whether
xacct turned the Data API on (it is left as it is).
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.aws import Sessions, is_not_found
from xacct_dataapi.config import TAG_DEPLOYMENT, Names
from xacct_dataapi.models import Account
from xacct_dataapi.state import ResourceRow, State
from xacct_dataapi.steps.common import owned, tag_dict


def _get(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


def discover(aws: Sessions, name: str, consumer_account: str, provider_account: str) -> State:
    names = Names(name)
    state = State(name=name, region=aws.region, accounts={"consumer": consumer_account, "provider": provider_account},
                  profiles={"consumer": aws.consumer_profile, "provider": aws.provider_profile})
    rows = state.resources
    P, C = Account.PROVIDER.value, Account.CONSUMER.value

    kms = aws.client(Account.PROVIDER, "kms")
    tagging = aws.client(Account.PROVIDER, "resourcegroupstaggingapi")
    key_arns = set()
    for page in tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": TAG_DEPLOYMENT, "Values": [name]}], ResourceTypeFilters=["kms:key"]):
        key_arns.update(m["ResourceARN"] for m in page.get("ResourceTagMappingList", []))
    alias_meta = _get(kms.describe_key, KeyId=names.key_alias)
    for arn in sorted(key_arns):
        meta = _get(kms.describe_key, KeyId=arn)
        if meta and meta["KeyMetadata"].get("KeyState") != "PendingDeletion":
            rows.append(ResourceRow(1, "kms_key", meta["KeyMetadata"]["KeyId"], P, arn=arn))
    if alias_meta and any(r.id == alias_meta["KeyMetadata"]["KeyId"] for r in rows if r.kind == "kms_key"):
        rows.append(ResourceRow(1, "kms_alias", names.key_alias, P))

    iam_c = aws.client(Account.CONSUMER, "iam")
    user = _get(iam_c.get_user, UserName=names.consumer_user)
    if user and owned(tag_dict(iam_c.list_user_tags(UserName=names.consumer_user).get("Tags")), name):
        rows.append(ResourceRow(6, "iam_user", names.consumer_user, C, arn=user["User"]["Arn"]))

    sm = aws.client(Account.PROVIDER, "secretsmanager")
    secret = _get(sm.describe_secret, SecretId=names.secret)
    if secret and owned(tag_dict(secret.get("Tags")), name) and not secret.get("DeletedDate"):
        rows.append(ResourceRow(3, "secret", names.secret, P, arn=secret["ARN"]))

    iam_p = aws.client(Account.PROVIDER, "iam")
    role = _get(iam_p.get_role, RoleName=names.access_role)
    if role and owned(tag_dict(iam_p.list_role_tags(RoleName=names.access_role).get("Tags")), name):
        rows.append(ResourceRow(5, "iam_role", names.access_role, P, arn=role["Role"]["Arn"]))

    ec2 = aws.client(Account.CONSUMER, "ec2")
    for sg in ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [names.security_group]},
                                                    {"Name": f"tag:{TAG_DEPLOYMENT}", "Values": [name]}])["SecurityGroups"]:
        rows.append(ResourceRow(7, "security_group", sg["GroupId"], C, name=names.security_group))
    for ep in ec2.describe_vpc_endpoints(Filters=[{"Name": f"tag:{TAG_DEPLOYMENT}", "Values": [name]}])["VpcEndpoints"]:
        if str(ep.get("State", "")).lower() not in ("deleted", "deleting"):
            rows.append(ResourceRow(7, "vpc_endpoint", ep["VpcEndpointId"], C, name=names.endpoint))
    return state
