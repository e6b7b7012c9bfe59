"""Step 2 (provider): the key policy — the provider account keeps control; the access role (which the consumer
assumes) may kms:Decrypt only through Secrets Manager in this region. Named by aws:PrincipalArn, so the role
need not exist yet.

A declared step: the generic planner (steps/declared.py) writes it when the key is new or its policy differs
(naming the differing statements), and records it when it is current but unrecorded (resource_types/kms.py).
"""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.models import Account, Resource
from xacct_dataapi.steps.common import access_role_arn
from xacct_dataapi.steps.declared import declare


def desired(ctx) -> list[Resource]:
    doc = policies.key_policy(ctx.provider_account, access_role_arn(ctx), ctx.region, ctx.partition)
    return [Resource("kms_key_policy", ctx.known("key_id"), Account.PROVIDER, arn=ctx.known("key_arn"),
                     documents={"key_policy": doc})]


STEP = declare(2, "key_policy", "Key policy grants the access role (provider)", ("kms_key_policy",), desired,
               needs=("key_id",))
