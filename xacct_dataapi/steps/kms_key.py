"""Step 1 (provider): a customer-managed symmetric KMS key with an alias derived from the name.

A declared step (steps/declared.py). CreateKey has no name and no idempotency token, so the key's type
(resource_types/kms.py KmsKey) is `located`: the key is the one the alias names, else one found by its
xacct:deployment tag (Resource Groups Tagging API: a key created by a run that died before recording it), and is
adopted. A key pending deletion is never reused (a new key is made, the alias pointed at it, the old key left as it
is); a key disabled by hand is enabled again; the alias moved by hand is pointed back.
"""
from __future__ import annotations

from xacct_dataapi.models import Account, Resource
from xacct_dataapi.steps.declared import declare


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


STEP = declare(1, "kms_key", "KMS key (provider)", ("kms_key", "kms_alias"), desired, provides=("key_id", "key_arn"))
