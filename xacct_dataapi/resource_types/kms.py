"""KMS: the deployment's key and its alias. The key policy is no row of its own to delete (it goes with the key)."""
from __future__ import annotations

import hashlib
import re
from typing import Callable, Iterator

from botocore.exceptions import ClientError

from xacct_dataapi.aws import is_not_found
from xacct_dataapi.errors import error_code
from xacct_dataapi.models import NOTHING_CHANGED, Account, Call, JsonDoc, Operation, Record, Ref, Retry
from xacct_dataapi.procedures import procedure
from xacct_dataapi.resource_types.cfn import cfn_tags
from xacct_dataapi.resource_types.base import (
    GONE, INVALID_PRINCIPAL, NOT_OURS, OURS, Ownership, PolicyDocument, ResourceType, _Probe, read_or_none,
    tagged_for, tagged_resources, tags_of,
)
from xacct_dataapi.resource_types.widening import key_grant_widenings
from xacct_dataapi.resource_types.grants import (
    ALIAS, ALIASES, FINDS, KEYS, READS, REQUEST_TAG, RESOURCE_TAG, SETUP, TEARDOWN, Grant, P,
)

_GOING = ("PendingDeletion", "PendingReplicaDeletion")


def _usable(meta: dict) -> bool:
    """A key the deployment can use again: not on its way out, not AWS managed."""
    return meta.get("KeyState") not in _GOING and meta.get("KeyManager") != "AWS"


def _usable_keys(kms, tagged: dict[str, dict], deployment: str, skip: Callable[[ClientError], bool]) -> Iterator[dict]:
    """The keys among `tagged` (ARN -> tags, from one tag search) tagged for the deployment and still usable, by ARN,
    each described only when asked for (the declared step's search takes the first, discovery all of them), with
    the tags the search found. A key whose DescribeKey fails with an error `skip` accepts is passed over."""
    for arn in sorted(a for a, tags in tagged.items() if tagged_for(tags, deployment)):
        try:
            meta = kms.describe_key(KeyId=arn)["KeyMetadata"]
        except ClientError as exc:
            if skip(exc):
                continue
            raise
        if _usable(meta):
            yield {**meta, "Tags": tagged[arn]}


class KmsKey(ResourceType):
    kind, service, noun, doctor_link = "kms_key", "kms", "KMS key", "key"
    cfn_refs = {"key_id": ("Key", None), "key_arn": ("Key", "Arn")}

    def cloudformation(self, t, r, ctx) -> None:
        p = r.properties
        t.add("Key", r.kind, "AWS::KMS::Key", {
            "Description": p["Description"], "KeyUsage": p["KeyUsage"], "KeySpec": p["KeySpec"],
            "Enabled": p["Enabled"], "PendingWindowInDays": ctx.cfg.key_deletion_days, "Tags": cfn_tags(r.tags)})

    # What the generic planner asks (steps/kms_key.py declares it). CreateKey has no name and no idempotency token, so
    # the key is `located` (`locate`): the recorded one, else the one the deployment's alias names, else one tagged for
    # the deployment (a run that died before recording its CreateKey), each only while usable and tagged for it. A
    # key pending deletion is never reused: a new one is made and the old one left as it is.
    located = True

    def id_of(self, found) -> str:
        return found["KeyId"]

    def search(self, client_for, names):
        """The first key (by ARN) tagged for this deployment and still usable, through the tagging API; None without
        tag:GetResources (then the alias alone finds the key). A key KMS will not describe to the operator is passed
        over: setup then makes one it can use."""
        try:
            tagged = tagged_resources(client_for("resourcegroupstaggingapi"), "kms:key", names.deployment)
        except ClientError:
            return None
        return next(_usable_keys(client_for("kms"), tagged, names.deployment, skip=lambda exc: True), None)

    def locate(self, found, r, names, read, search):
        """The recorded key while it is usable and this deployment's (an alias moved by hand to another key is
        pointed back), else the key the alias names (read beside it: no call of its own), else the tag search."""
        alias = found.get(("kms_alias", names.key_alias))
        named = alias and alias.get("Key") and {**alias["Key"], "Tags": alias["Tags"]}
        recorded = None if isinstance(r.id, Ref) else named if named and named["KeyId"] == r.id else read()
        for key in (recorded, named):
            if key and _usable(key) and tagged_for(key["Tags"], names.deployment):
                return key
        return search()

    def create(self, r) -> list:
        props = {k: v for k, v in r.properties.items() if k != "Enabled"}  # CreateKey makes it enabled
        return [Call(r.account, "kms", "create_key",
                     {**props, "Tags": [{"TagKey": k, "TagValue": v} for k, v in r.tags.items()]},
                     outputs={"key_id": "KeyMetadata.KeyId", "key_arn": "KeyMetadata.Arn"},
                     record=Record(self.kind, Ref("key_id"), arn=Ref("key_arn")),
                     description="create the customer-managed key")]

    def differences(self, found, r) -> list[str]:
        return [f"key {found['KeyId']} is disabled"] if r.properties["Enabled"] and found["KeyState"] == "Disabled" \
            else []

    def update(self, found, r) -> list:
        return [Call(r.account, "kms", "enable_key", {"KeyId": found["KeyId"]}, description="re-enable the key")]

    def values(self, found, r, names, known) -> dict:
        return {"key_id": found and found["KeyId"], "key_arn": found and found["Arn"]}

    def find(self, finder) -> list:
        """Through the tagging API (CreateKey takes no name; the finder's tag search, which its aliases' discovery
        shares): every key the declared step's search could take. One KMS no longer knows is gone; any other
        refusal is the operator's to see."""
        keys = _usable_keys(finder.client(self.account, "kms"), finder.tagged(self.account, "kms:key"),
                            finder.names.deployment, skip=is_not_found)
        return [(key["KeyId"], key["Arn"]) for key in keys]

    def read(self, client, row):
        meta = read_or_none(client.describe_key, KeyId=row.arn or row.id)
        if meta is None:
            return None
        return {**meta["KeyMetadata"], "Tags": tags_of(client.list_resource_tags(KeyId=meta["KeyMetadata"]["KeyId"])
                                                       .get("Tags"))}

    def judge(self, found, row, names):
        # read() goes by the row's ARN, delete() by its id: a row whose two name different keys (half edited) is
        # nobody's, or the guard would pass on one key and ScheduleKeyDeletion take the other.
        if row.id not in (found["KeyId"], found.get("Arn")):
            return Ownership(NOT_OURS, f"the row's id {row.id} and ARN {row.arn} name two different keys")
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


@procedure("kms:schedule_key_deletion", actions=("kms:DescribeKey", "kms:ScheduleKeyDeletion"))
def schedule_key_deletion(ops, KeyId: str, PendingWindowInDays: int) -> dict:
    """Already gone, or already pending deletion, counts as done (a re-run after a crash repeats no call).

    The key keeps its xacct:deployment tag: the operator's ScheduleKeyDeletion grant is conditioned on that tag
    (aws:ResourceTag), so untagging first would deny the deletion; a key pending deletion is skipped by the tag
    search (KmsKey.search), so a later setup of the same name only pays one DescribeKey for it."""
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
    """An alias is ours if it is in this deployment's namespace (Names.owns_alias: `alias/xacct-<name>` or under
    `alias/xacct-<name>/`) and points at a key tagged for this deployment. The kms_key step declares the deployment's
    own alias; another declared step may add more in the namespace (create / differences / update / record). Its
    read keeps the key it names (`Key`): the key's `locate` needs no call of its own.
    Aliases carry no tags of their own: discovery lists the aliases of the deployment's keys (found by tag)."""

    kind, service, noun, doctor_link = "kms_alias", "kms", "KMS alias", "key"

    def cloudformation(self, t, r, ctx) -> None:
        t.add(alias_logical_id(r.id, ctx.names.key_alias), r.kind, "AWS::KMS::Alias",
              {"AliasName": r.id, "TargetKeyId": r.properties["TargetKeyId"]})

    def find(self, finder) -> list:
        """ListAliases filtered by each of this deployment's keys (tagged; pending deletion too, its aliases still
        exist), paged: one listing per key, never one per alias or per deployment in the account."""
        kms, out = finder.client(self.account, "kms"), []
        for key_arn in sorted(finder.tagged_arns(self.account, "kms:key")):
            pages = kms.get_paginator("list_aliases").paginate(KeyId=key_arn)
            for alias in (a for page in pages for a in page.get("Aliases", [])):
                name = alias["AliasName"]
                found = self.read(kms, _Probe(name)) if finder.names.owns_alias(name) else None
                if found is not None and self.judge(found, _Probe(name), finder.names).ours:
                    out.append((name, alias.get("AliasArn")))
        return sorted(out)

    def read(self, client, row):
        meta = read_or_none(client.describe_key, KeyId=row.id)
        if meta is None:
            return None
        key = meta["KeyMetadata"]
        return {"Alias": row.id, "TargetKeyId": key["KeyId"], "Key": key,
                "Tags": tags_of(client.list_resource_tags(KeyId=key["KeyId"]).get("Tags"))
                if key.get("KeyManager") != "AWS" else {}}

    def judge(self, found, row, names):
        if not names.owns_alias(found["Alias"]):
            return Ownership(NOT_OURS, f"this deployment's aliases are {names.key_alias} and those under "
                                       f"{names.key_alias}/")
        if not tagged_for(found["Tags"], names.deployment):
            return Ownership(NOT_OURS, f"it points at key {found['TargetKeyId']}, not tagged for this deployment")
        return Ownership(OURS, f"it points at this deployment's key {found['TargetKeyId']}")

    def create(self, r) -> list:
        return [Call(r.account, "kms", "create_alias", {"AliasName": r.id, "TargetKeyId": r.properties["TargetKeyId"]},
                     record=self.record(r, {}), description=f"create {r.id}")]

    def differences(self, found, r) -> list[str]:
        want = r.properties["TargetKeyId"]  # a Ref while the key is still to be made: never equal
        if found["TargetKeyId"] == want:
            return []
        return [f"{r.id} points at key {found['TargetKeyId']}, desired "
                + (f"key {want}" if isinstance(want, str) else "the new key")]

    def update(self, found, r) -> list:
        return [Call(r.account, "kms", "update_alias", {"AliasName": r.id, "TargetKeyId": r.properties["TargetKeyId"]},
                     record=self.record(r, found), description=f"point {r.id} at the key")]

    def record(self, r, found) -> Record:
        return Record(self.kind, r.id, arn=r.arn)

    def delete(self, row, state) -> list:
        return [Call(Account.PROVIDER, "kms", "delete_alias", {"AliasName": row.id}, forget=(row.kind, row.id),
                     ok_codes=("NotFoundException",), description=f"delete {row.id}")]


def alias_logical_id(alias: str, own_alias: str) -> str:
    """The template's logical id of an alias: `KeyAlias` for the deployment's own, and for one under it the letters
    and digits of its suffix plus a digest of the whole name (logical ids are alphanumeric, at most 255 characters,
    unique in the template; `a-b` and `a_b` are two aliases)."""
    if alias == own_alias:
        return "KeyAlias"
    suffix = alias[len(own_alias) + 1:] if alias.startswith(own_alias + "/") else alias
    readable = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", suffix))[:200]
    return f"KeyAlias{readable}{hashlib.sha256(alias.encode()).hexdigest()[:8]}"


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
    # CreateAlias / UpdateAlias / DeleteAlias are authorised on the alias and on the key it names (both).
    Grant("ManageXacctAliases", P, {"kms:CreateAlias": SETUP, "kms:UpdateAlias": SETUP, "kms:DeleteAlias": TEARDOWN},
          (ALIAS, ALIASES, KEYS)),
    Grant("ListKeyAliases", P, {"kms:ListAliases": TEARDOWN}, ("*",),
          why_star="ListAliases is authorised by IAM policy on `*` only (KMS API reference, ListAliases); "
                   "discovery filters it by the deployment's keys."),
)
