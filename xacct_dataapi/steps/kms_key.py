"""Step 1 (provider): a customer-managed symmetric KMS key with an alias derived from the name.

CreateKey has no name and no idempotency token, so a key created by a run that died before recording
it is found again by its xacct:deployment tag (Resource Groups Tagging API).
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.aws import is_not_found
from xacct_dataapi.errors import error_code
from xacct_dataapi.config import TAG_DEPLOYMENT
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.models import (
    NOTHING_CHANGED, Account, Action, Bookkeeping, Call, Inspection, Operation, Record, Ref, Resource, Step, StepPlan,
)
from xacct_dataapi.state import ResourceRow
from xacct_dataapi.steps.common import kms_tags, not_ours, owned, tag_dict

NUMBER = 1


def _usable(meta: dict) -> bool:
    return meta.get("KeyState") not in ("PendingDeletion", "PendingReplicaDeletion") and meta.get("KeyManager") != "AWS"


def _find_by_tag(ctx) -> dict | None:
    kms = ctx.client(Account.PROVIDER, "kms")
    tagging = ctx.client(Account.PROVIDER, "resourcegroupstaggingapi")
    try:
        pages = tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": TAG_DEPLOYMENT, "Values": [ctx.names.deployment]}], ResourceTypeFilters=["kms:key"]
        )
        arns = [m["ResourceARN"] for p in pages for m in p.get("ResourceTagMappingList", [])]
    except ClientError:
        return None  # no tag:GetResources permission: fall back to the alias alone
    for arn in sorted(arns):
        try:
            meta = kms.describe_key(KeyId=arn)["KeyMetadata"]
        except ClientError:
            continue
        if _usable(meta):
            return meta
    return None


def inspect(ctx, known) -> Inspection:
    kms = ctx.client(Account.PROVIDER, "kms")
    alias_meta = None
    recorded = known.get("key_id")
    # At once: the alias's key; the recorded key's tags (ListResourceTags takes no alias), used only if the alias
    # names that key; and, when the state records no key (a fresh setup, or a run that died before recording its
    # CreateKey), the tag search, which is then needed unless the alias exists: on a fresh setup it is the last
    # read before the first write, one round trip saved.
    alias_r, tags_r, search_r = gather(lambda: kms.describe_key(KeyId=ctx.names.key_alias)["KeyMetadata"],
                                       lambda: recorded and kms.list_resource_tags(KeyId=recorded).get("Tags"),
                                       lambda: None if recorded else _find_by_tag(ctx))
    try:
        alias_meta = unwrap(alias_r)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    if alias_meta is not None:
        early = tags_r[0] if tags_r[1] is None and recorded == alias_meta["KeyId"] else None
        tags = tag_dict(early if early is not None else kms.list_resource_tags(KeyId=alias_meta["KeyId"]).get("Tags"))
        if not owned(tags, ctx.names.deployment):
            raise not_ours("KMS alias", ctx.names.key_alias, ctx.names.deployment, ctx.provider_account)
    meta = alias_meta if alias_meta and _usable(alias_meta) else None
    if meta is None:
        meta = _find_by_tag(ctx) if recorded else unwrap(search_r)
    facts = {"key": meta, "alias_target": alias_meta["KeyId"] if alias_meta else None}
    return Inspection(facts, {"key_id": meta and meta["KeyId"], "key_arn": meta and meta["Arn"]})


def desired(ctx) -> list[Resource]:
    alias = ctx.names.key_alias
    key_id = ctx.known("key_id")
    return [
        Resource("kms_key", key_id, Account.PROVIDER, arn=ctx.known("key_arn"), tags=ctx.names.tags(), properties={
            "Description": f"xacct {ctx.names.deployment}: encrypts the Data API DB credentials secret",
            "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT", "Enabled": True}),
        Resource("kms_alias", alias, Account.PROVIDER, properties={"TargetKeyId": key_id},
                 arn=f"arn:{ctx.partition}:kms:{ctx.region}:{ctx.provider_account}:{alias}"),
    ]


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    want_key, want_alias = desired
    alias = want_alias.id
    step = StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP, "")
    key = facts["key"]
    alias_record = Record("kms_alias", alias, arn=want_alias.arn)
    if key is None:
        step.action, step.reason = Action.CREATE, f"no key tagged {TAG_DEPLOYMENT}={ctx.names.deployment}"
        props = {k: v for k, v in want_key.properties.items() if k != "Enabled"}
        step.calls.append(Call(
            Account.PROVIDER, "kms", "create_key", {**props, "Tags": kms_tags(want_key.tags)},
            outputs={"key_id": "KeyMetadata.KeyId", "key_arn": "KeyMetadata.Arn"},
            record=Record("kms_key", Ref("key_id"), arn=Ref("key_arn")),
            description="create the customer-managed key"))
        key_id = Ref("key_id")
    else:
        key_id = key["KeyId"]
        if not ctx.state.find("kms_key", key_id):
            # Found by tag but not in the state file (a run died after CreateKey): adopt it as ours.
            step.action, step.reason = Action.REPAIR, f"key {key_id} exists (found by tag) but was not recorded"
            step.calls.append(Bookkeeping(Account.PROVIDER, record=Record("kms_key", key_id, arn=key["Arn"]),
                                          description="record the key"))
        if key.get("KeyState") == "Disabled":
            step.action, step.reason = Action.REPAIR, f"key {key_id} is disabled"
            step.calls.append(Call(Account.PROVIDER, "kms", "enable_key", {"KeyId": key_id}, description="re-enable the key"))
    if facts["alias_target"] is None:
        if step.action is Action.NOOP:
            step.action, step.reason = Action.REPAIR, f"alias {alias} is missing"
        step.calls.append(Call(Account.PROVIDER, "kms", "create_alias", {"AliasName": alias, "TargetKeyId": key_id},
                               record=alias_record, description=f"create {alias}"))
    elif key is not None and facts["alias_target"] != key["KeyId"]:
        step.action, step.reason = Action.REPAIR, f"alias {alias} points at another key"
        step.calls.append(Call(Account.PROVIDER, "kms", "update_alias", {"AliasName": alias, "TargetKeyId": key_id},
                               record=alias_record, description=f"point {alias} at the key"))
    elif key is None:
        # The alias still points at an old key (pending deletion or not ours): repoint it at the new key.
        step.calls.append(Call(Account.PROVIDER, "kms", "update_alias", {"AliasName": alias, "TargetKeyId": key_id},
                               record=alias_record, description=f"point {alias} at the new key"))
    elif not ctx.state.find("kms_alias", alias):
        step.calls.append(Bookkeeping(Account.PROVIDER, record=alias_record, description="record the alias"))
    if step.action is Action.NOOP:
        step.reason = f"key {key['KeyId']} exists, enabled, with alias {alias}"
    return step


def schedule_key_deletion(ops, KeyId: str, PendingWindowInDays: int) -> dict:
    """Already gone, or already pending deletion, counts as done (a re-run after a crash repeats no call).

    The key keeps its xacct:deployment tag: the operator's ScheduleKeyDeletion grant is conditioned on that tag
    (aws:ResourceTag), so untagging first would deny the deletion; a key pending deletion is skipped by the tag
    search (`_usable`), so a later setup of the same name only pays one DescribeKey for it."""
    try:
        state = ops.client("kms").describe_key(KeyId=KeyId)["KeyMetadata"].get("KeyState")
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return {NOTHING_CHANGED: "already gone"}
        raise
    if state in ("PendingDeletion", "PendingReplicaDeletion"):
        return {NOTHING_CHANGED: "already pending deletion"}
    ops.call("kms", "schedule_key_deletion", KeyId=KeyId, PendingWindowInDays=PendingWindowInDays)
    return {}


def teardown(row, state) -> list:
    if row.kind == "kms_alias":
        return [Call(Account.PROVIDER, "kms", "delete_alias", {"AliasName": row.id}, forget=(row.kind, row.id),
                     ok_codes=("NotFoundException",), description=f"delete {row.id}")]
    days = int(state.config.get("key_deletion_days") or 7)
    return [Operation(Account.PROVIDER, name="kms:schedule_key_deletion", run=schedule_key_deletion,
                      params={"KeyId": row.id, "PendingWindowInDays": days}, forget=(row.kind, row.id),
                      description=f"schedule key {row.id} for deletion in {days} days")]


def discover(find) -> list[ResourceRow]:
    """Keys are found through the tagging API (CreateKey takes no name); the alias only if it points at one."""
    kms = find.client(Account.PROVIDER, "kms")
    rows = []
    for arn in sorted(find.tagged_arns(Account.PROVIDER, "kms:key")):
        meta = find.get(kms.describe_key, KeyId=arn)
        if meta and meta["KeyMetadata"].get("KeyState") != "PendingDeletion":
            rows.append(ResourceRow(NUMBER, "kms_key", meta["KeyMetadata"]["KeyId"], Account.PROVIDER.value, arn=arn))
    alias_meta = find.get(kms.describe_key, KeyId=find.names.key_alias)
    if alias_meta and any(r.id == alias_meta["KeyMetadata"]["KeyId"] for r in rows):
        rows.append(ResourceRow(NUMBER, "kms_alias", find.names.key_alias, Account.PROVIDER.value))
    return rows


STEP = Step(NUMBER, "kms_key", "KMS key (provider)", ("kms_key", "kms_alias"), inspect=inspect, desired=desired,
            plan=plan, teardown=teardown, provides=("key_id", "key_arn"), discover=discover)
