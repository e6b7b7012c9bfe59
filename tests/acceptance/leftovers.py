"""What is left of xacct deployments, read from AWS by their tags: `xacct:deployment=NAME` on every resource xacct
makes, `xacct:member:NAME` on the rds-data endpoint deployments share. The acceptance suite's "nothing left" check
(the world's own resources are the sweeper's inventory)."""
from __future__ import annotations

from tests.helpers.inventory import tags_of
from xacct_dataapi.config import TAG_DEPLOYMENT
from xacct_dataapi.steps.endpoint_members import MEMBER_TAG


def _pages(client, operation: str, key: str, **kwargs) -> list[dict]:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def xacct_resources(target, names) -> list[str]:
    """Every live resource of these deployments, in either account, as 'side kind id'."""
    names = set(names)

    def ours(tags: dict) -> bool:
        return tags.get(TAG_DEPLOYMENT) in names or any(MEMBER_TAG + n in tags for n in names)

    found = []
    for side, profile in (("consumer", target.consumer_profile), ("provider", target.provider_profile)):
        ec2, iam = target.client(profile, "ec2"), target.client(profile, "iam")
        found += [f"{side} vpc-endpoint {e['VpcEndpointId']} ({e['State']})"
                  for e in _pages(ec2, "describe_vpc_endpoints", "VpcEndpoints")
                  if str(e.get("State", "")).lower() != "deleted" and ours(tags_of(e.get("Tags")))]
        found += [f"{side} security-group {g['GroupId']}"
                  for g in _pages(ec2, "describe_security_groups", "SecurityGroups",
                                  Filters=[{"Name": f"tag:{TAG_DEPLOYMENT}", "Values": sorted(names)}])]
        found += [f"{side} secret {s['Name']}" for s in _pages(target.client(profile, "secretsmanager"), "list_secrets",
                                                               "SecretList")
                  if not s.get("DeletedDate") and ours(tags_of(s.get("Tags")))]
        kms = target.client(profile, "kms")
        for key in _pages(kms, "list_keys", "Keys"):
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("KeyManager") == "AWS" or meta.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
                continue
            if ours(tags_of(kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags"))):
                found.append(f"{side} kms-key {key['KeyId']} ({meta.get('KeyState')})")
        # xacct names every principal it makes xacct-NAME-...; the tag decides.
        for kind, key, ident in (("role", "Roles", "RoleName"), ("user", "Users", "UserName")):
            for item in _pages(iam, f"list_{kind}s", key):
                if item[ident].startswith("xacct-"):
                    tags = getattr(iam, f"list_{kind}_tags")(**{ident: item[ident]})["Tags"]
                    if ours(tags_of(tags)):
                        found.append(f"{side} iam-{kind} {item[ident]}")
    return found
