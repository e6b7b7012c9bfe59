"""KMS: the deployment's key and its alias. The key policy is no row of its own to delete (it goes with the key)."""
from __future__ import annotations

from xacct_dataapi.resource_types.base import GONE, NOT_OURS, OURS, Ownership, ResourceType, read_or_none, tags_of, tagged_for

_GOING = ("PendingDeletion", "PendingReplicaDeletion")


class KmsKey(ResourceType):
    kind, service, noun = "kms_key", "kms", "KMS key"

    def read(self, client, row):
        meta = read_or_none(client.describe_key, KeyId=row.arn or row.id)
        if meta is None:
            return None
        return {**meta["KeyMetadata"], "Tags": tags_of(client.list_resource_tags(KeyId=meta["KeyMetadata"]["KeyId"])
                                                       .get("Tags"))}

    def judge(self, found, row, names):
        if found.get("KeyManager") == "AWS":
            return Ownership(NOT_OURS, "it is an AWS managed key")
        if found.get("KeyState") in _GOING:  # nothing left to do to it, whoever's it is
            return Ownership(GONE, f"key {found['KeyId']} is already pending deletion")
        if not tagged_for(found["Tags"], names.deployment):
            return Ownership(NOT_OURS, f"it is tagged xacct:deployment={found['Tags'].get('xacct:deployment')!r}")
        return Ownership(OURS, f"key {found['KeyId']} carries this deployment's tags")


class KmsAlias(ResourceType):
    """An alias is ours if it has this deployment's name and points at a key tagged for this deployment."""

    kind, service, noun = "kms_alias", "kms", "KMS alias"

    def read(self, client, row):
        meta = read_or_none(client.describe_key, KeyId=row.id)
        if meta is None:
            return None
        key = meta["KeyMetadata"]
        return {"Alias": row.id, "TargetKeyId": key["KeyId"],
                "Tags": tags_of(client.list_resource_tags(KeyId=key["KeyId"]).get("Tags"))
                if key.get("KeyManager") != "AWS" else {}}

    def judge(self, found, row, names):
        if found["Alias"] != names.key_alias:
            return Ownership(NOT_OURS, f"this deployment's alias is {names.key_alias}")
        if not tagged_for(found["Tags"], names.deployment):
            return Ownership(NOT_OURS, f"it points at key {found['TargetKeyId']}, not tagged for this deployment")
        return Ownership(OURS, f"it points at this deployment's key {found['TargetKeyId']}")


TYPES = (KmsKey(), KmsAlias())
