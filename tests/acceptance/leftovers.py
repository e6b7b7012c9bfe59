"""What is left of xacct deployments, read from AWS by their tags: `xacct:deployment=NAME` on every resource xacct
makes, `xacct:member:NAME` on the rds-data endpoint deployments share. The acceptance suite's "nothing left" check
(the world's own resources are the sweeper's inventory)."""
from __future__ import annotations

from tests.helpers.inventory import tags_of
from xacct_dataapi.config import TAG_DEPLOYMENT
from xacct_dataapi.steps.endpoint_members import LEGACY_MEMBER_TAG as MEMBER_TAG


def _pages(client, operation: str, key: str, **kwargs) -> list[dict]:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def xacct_resources(target, names) -> list[str]:
    """Every live resource of these deployments, in either account, as 'side kind id [deployment, ...]'."""
    return [f"{side} {what} [{', '.join(sorted(of))}]" for side, what, of in _live(target, set(names))]


def deployments_left(target, names) -> set[str]:
    """Which of these deployments AWS still shows resources of."""
    return {name for *_, of in _live(target, set(names)) for name in of}


def _live(target, names: set[str]) -> list[tuple[str, str, set[str]]]:
    def ours(tags: dict) -> set[str]:
        """The deployments among `names` these tags name."""
        return {n for n in names if tags.get(TAG_DEPLOYMENT) == n or MEMBER_TAG + n in tags}

    found = []
    for side, profile in (("consumer", target.consumer_profile), ("provider", target.provider_profile)):
        ec2, iam, kms = (target.client(profile, service) for service in ("ec2", "iam", "kms"))
        secrets = target.client(profile, "secretsmanager")
        tagged = [(f"vpc-endpoint {e['VpcEndpointId']} ({e['State']})", e.get("Tags"))
                  for e in _pages(ec2, "describe_vpc_endpoints", "VpcEndpoints")
                  if str(e.get("State", "")).lower() != "deleted"]
        tagged += [(f"security-group {g['GroupId']}", g.get("Tags"))
                   for g in _pages(ec2, "describe_security_groups", "SecurityGroups",
                                   Filters=[{"Name": f"tag:{TAG_DEPLOYMENT}", "Values": sorted(names)}])]
        tagged += [(f"secret {s['Name']}", s.get("Tags")) for s in _pages(secrets, "list_secrets", "SecretList")
                   if not s.get("DeletedDate")]
        for key in _pages(kms, "list_keys", "Keys"):
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("KeyManager") != "AWS" and meta.get("KeyState") not in ("PendingDeletion",
                                                                               "PendingReplicaDeletion"):
                tagged.append((f"kms-key {key['KeyId']} ({meta.get('KeyState')})",
                               kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags")))
        # xacct names every principal it makes xacct-NAME-...; the tag decides.
        for kind, key, ident in (("role", "Roles", "RoleName"), ("user", "Users", "UserName")):
            tagged += [(f"iam-{kind} {item[ident]}", getattr(iam, f"list_{kind}_tags")(**{ident: item[ident]})["Tags"])
                       for item in _pages(iam, f"list_{kind}s", key) if item[ident].startswith("xacct-")]
        found += [(side, what, ours(tags_of(tags))) for what, tags in tagged if ours(tags_of(tags))]
    return found
