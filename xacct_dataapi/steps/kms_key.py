"""Step 1 (provider): a customer-managed symmetric KMS key with an alias derived from the name.

CreateKey has no name and no idempotency token, so a key created by a run that died before recording
it is found again by its xacct:deployment tag (Resource Groups Tagging API).
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.aws import is_not_found
from xacct_dataapi.config import TAG_DEPLOYMENT
from xacct_dataapi.models import Account, Action, Call, Record, Ref, StepPlan
from xacct_dataapi.steps.common import kms_tags, not_ours, owned, tag_dict

NUMBER = 1
KEY = "kms_key"
TITLE = "KMS key (provider)"
KINDS = ("kms_key", "kms_alias")


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


def inspect(ctx) -> dict:
    kms = ctx.client(Account.PROVIDER, "kms")
    alias_meta = None
    try:
        alias_meta = kms.describe_key(KeyId=ctx.names.key_alias)["KeyMetadata"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    if alias_meta is not None:
        tags = tag_dict(kms.list_resource_tags(KeyId=alias_meta["KeyId"]).get("Tags"))
        if not owned(tags, ctx.names.deployment):
            raise not_ours("KMS alias", ctx.names.key_alias, ctx.names.deployment, ctx.provider_account)
    meta = alias_meta if alias_meta and _usable(alias_meta) else None
    if meta is None:
        meta = _find_by_tag(ctx)
    facts = {"key": meta, "alias_target": alias_meta["KeyId"] if alias_meta else None}
    if meta:
        ctx.values["key_id"], ctx.values["key_arn"] = meta["KeyId"], meta["Arn"]
    else:
        ctx.values.pop("key_id", None)
        ctx.values.pop("key_arn", None)
    return facts


def plan(ctx, facts: dict) -> StepPlan:
    alias = ctx.names.key_alias
    step = StepPlan(NUMBER, KEY, TITLE, Action.NOOP, "")
    key = facts["key"]
    alias_record = Record("kms_alias", alias, arn=f"arn:{ctx.partition}:kms:{ctx.region}:{ctx.provider_account}:{alias}")
    if key is None:
        step.action, step.reason = Action.CREATE, f"no key tagged {TAG_DEPLOYMENT}={ctx.names.deployment}"
        step.calls.append(Call(
            Account.PROVIDER, "kms", "create_key",
            {"Description": f"xacct {ctx.names.deployment}: encrypts the Data API DB credentials secret",
             "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT", "Tags": kms_tags(ctx.names.tags())},
            outputs={"key_id": "KeyMetadata.KeyId", "key_arn": "KeyMetadata.Arn"},
            record=Record("kms_key", Ref("key_id"), arn=Ref("key_arn")),
            description="create the customer-managed key"))
        key_id = Ref("key_id")
    else:
        key_id = key["KeyId"]
        if not ctx.state.find("kms_key", key_id):
            # Found by tag but not in the state file (a run died after CreateKey): adopt it as ours.
            step.action, step.reason = Action.REPAIR, f"key {key_id} exists (found by tag) but was not recorded"
            step.calls.append(Call(Account.PROVIDER, "xacct", "record", {},
                                   record=Record("kms_key", key_id, arn=key["Arn"]), description="record the key"))
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
        step.calls.append(Call(Account.PROVIDER, "xacct", "record", {}, record=alias_record,
                               description="record the alias"))
    if step.action is Action.NOOP:
        step.reason = f"key {key['KeyId']} exists, enabled, with alias {alias}"
    return step


def teardown(row, state) -> list[Call]:
    if row.kind == "kms_alias":
        return [Call(Account.PROVIDER, "kms", "delete_alias", {"AliasName": row.id}, forget=(row.kind, row.id),
                     ok_codes=("NotFoundException",), description=f"delete {row.id}")]
    days = int(state.config.get("key_deletion_days") or 7)
    return [Call(Account.PROVIDER, "xacct", "schedule_key_deletion", {"KeyId": row.id, "PendingWindowInDays": days},
                 forget=(row.kind, row.id), description=f"schedule key {row.id} for deletion in {days} days")]
