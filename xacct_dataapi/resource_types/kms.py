"""KMS: the deployment's key and its alias. The key policy is no row of its own to delete (it goes with the key)."""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.errors import error_code
from xacct_dataapi.models import NOTHING_CHANGED, Account, Call, JsonDoc, Operation, Record, Retry
from xacct_dataapi.procedures import procedure
from xacct_dataapi.resource_types.cfn import cfn_tags
from xacct_dataapi.resource_types.base import (
    GONE, INVALID_PRINCIPAL, NOT_OURS, OURS, Ownership, PolicyDocument, ResourceType, read_or_none, tags_of,
    tagged_for,
)
from xacct_dataapi.resource_types.widening import key_grant_widenings
from xacct_dataapi.resource_types.grants import (
    ALIAS, FINDS, KEYS, READS, REQUEST_TAG, RESOURCE_TAG, SETUP, TEARDOWN, Grant, P,
)

_GOING = ("PendingDeletion", "PendingReplicaDeletion")


class KmsKey(ResourceType):
    kind, service, noun, doctor_link = "kms_key", "kms", "KMS key", "key"
    cfn_refs = {"key_id": ("Key", None), "key_arn": ("Key", "Arn")}

    def cloudformation(self, t, r, ctx) -> None:
        p = r.properties
        t.add("Key", r.kind, "AWS::KMS::Key", {
            "Description": p["Description"], "KeyUsage": p["KeyUsage"], "KeySpec": p["KeySpec"],
            "Enabled": p["Enabled"], "PendingWindowInDays": ctx.cfg.key_deletion_days, "Tags": cfn_tags(r.tags)})

    def find(self, finder) -> list:
        """Through the tagging API (CreateKey takes no name): keys tagged for this deployment, not pending deletion."""
        kms = finder.client(self.account, "kms")
        out = []
        for arn in sorted(finder.tagged_arns(self.account, "kms:key")):
            meta = read_or_none(kms.describe_key, KeyId=arn)
            if meta and meta["KeyMetadata"].get("KeyState") not in _GOING:
                out.append((meta["KeyMetadata"]["KeyId"], arn))
        return out

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

    def delete(self, row, state) -> list:
        days = int(state.config.get("key_deletion_days") or 7)
        return [Operation(Account.PROVIDER, name="kms:schedule_key_deletion",
                          params={"KeyId": row.id, "PendingWindowInDays": days}, forget=(row.kind, row.id),
                          description=f"schedule key {row.id} for deletion in {days} days")]


@procedure("kms:schedule_key_deletion")
def schedule_key_deletion(ops, KeyId: str, PendingWindowInDays: int) -> dict:
    """Already gone, or already pending deletion, counts as done (a re-run after a crash repeats no call).

    The key keeps its xacct:deployment tag: the operator's ScheduleKeyDeletion grant is conditioned on that tag
    (aws:ResourceTag), so untagging first would deny the deletion; a key pending deletion is skipped by the tag
    search (steps/kms_key.py `_usable`), so a later setup of the same name only pays one DescribeKey for it."""
    try:
        state = ops.client("kms").describe_key(KeyId=KeyId)["KeyMetadata"].get("KeyState")
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return {NOTHING_CHANGED: "already gone"}
        raise
    if state in _GOING:
        return {NOTHING_CHANGED: "already pending deletion"}
    ops.call("kms", "schedule_key_deletion", KeyId=KeyId, PendingWindowInDays=PendingWindowInDays)
    return {}


class KmsAlias(ResourceType):
    """An alias is ours if it has this deployment's name and points at a key tagged for this deployment."""

    kind, service, noun, doctor_link = "kms_alias", "kms", "KMS alias", "key"

    def cloudformation(self, t, r, ctx) -> None:
        t.add("KeyAlias", r.kind, "AWS::KMS::Alias", {"AliasName": r.id, "TargetKeyId": r.properties["TargetKeyId"]})

    def name_of(self, names) -> str:
        return names.key_alias

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

    def delete(self, row, state) -> list:
        return [Call(Account.PROVIDER, "kms", "delete_alias", {"AliasName": row.id}, forget=(row.kind, row.id),
                     ok_codes=("NotFoundException",), description=f"delete {row.id}")]


class KeyPolicy(PolicyDocument):
    """The key's one policy ("default"), written by the generic planner (steps/key_policy.py)."""

    service, noun, document = "kms", "key policy", "key_policy"

    def read_document(self, client, row):
        found = read_or_none(client.get_key_policy, KeyId=row.id, PolicyName="default")  # the only name AWS has
        return found and found["Policy"]

    def foreign(self, client, r) -> list[str]:
        # KMS grants reach the key outside its policy; xacct makes none (resource_types.widening).
        key = r.arn if isinstance(r.arn, str) else r.id
        return [w.line() for w in key_grant_widenings(client, key)]

    def put(self, r):
        return Call(Account.PROVIDER, "kms", "put_key_policy",
                    {"KeyId": r.id, "PolicyName": "default", "Policy": JsonDoc(r.documents["key_policy"])},
                    record=Record(self.kind, r.id, arn=r.arn), description="write the key policy",
                    retry=Retry(INVALID_PRINCIPAL, ("principal",), "a new IAM principal is not yet visible to KMS"))

    def cloudformation(self, t, r, ctx) -> None:
        # CloudFormation has no separate key-policy resource: the policy is the key's KeyPolicy property.
        t.merge("Key", r.kind, {"KeyPolicy": r.documents["key_policy"]})


TYPES = (KmsKey(), KmsAlias(), KeyPolicy("kms_key_policy", Account.PROVIDER,
                                         "forget the kms key policy (the key policy goes with the key)"))

# The operator's IAM grants for these calls (permissions.py assembles them; docs/permissions.md).
GRANTS: tuple[Grant, ...] = (
    Grant("FindKeysByTag", P, {"tag:GetResources": FINDS}, ("*",),
          why_star="The Resource Groups Tagging API has no resource types: GetResources is authorised on `*`."),
    Grant("CreateTaggedKey", P, {"kms:CreateKey": SETUP}, ("*",), condition=REQUEST_TAG,
          why_star="The key has no ARN before it exists (CreateKey has no resource type); narrowed by "
                   "`aws:RequestTag`."),
    Grant("TagKeyAtCreation", P, {"kms:TagResource": SETUP}, (KEYS,), condition=REQUEST_TAG,
          implied=("kms:TagResource",)),
    Grant("ReadKeys", P, {"kms:DescribeKey": FINDS,
                          "kms:ListResourceTags": FINDS, "kms:GetKeyPolicy": READS,
                          "kms:ListGrants": READS},  # nobody holds a grant on the key (resource_types.widening)
          (KEYS,)),
    # Teardown keeps the key's tag (resource_types/kms.py): untagging first would void this statement's condition.
    Grant("ManageXacctKeys", P, {"kms:PutKeyPolicy": SETUP, "kms:EnableKey": SETUP, "kms:ScheduleKeyDeletion": TEARDOWN},
          (KEYS,), condition=RESOURCE_TAG),
    Grant("ManageXacctAliases", P, {"kms:CreateAlias": SETUP, "kms:UpdateAlias": SETUP, "kms:DeleteAlias": TEARDOWN},
          (ALIAS, KEYS)),
)
