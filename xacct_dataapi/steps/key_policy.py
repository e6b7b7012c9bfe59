"""Step 2 (provider): the key policy — the provider account keeps control; the consumer principal may
kms:Decrypt / kms:DescribeKey only through Secrets Manager in this region (defence in depth)."""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.models import Account, Action, Call, JsonDoc, Record, StepPlan
from xacct_dataapi.steps.common import INVALID_PRINCIPAL
from xacct_dataapi.models import Retry

NUMBER = 2
KEY = "key_policy"
TITLE = "Key policy grants the consumer (provider)"
KINDS = ("kms_key_policy",)


def desired(ctx) -> dict:
    return policies.key_policy(ctx.provider_account, ctx.consumer_account, ctx.principal.arn, ctx.region, ctx.partition)


def inspect(ctx) -> dict:
    key_id = ctx.values.get("key_id")
    if not key_id:
        return {"policy": None}
    kms = ctx.client(Account.PROVIDER, "kms")
    # PolicyName must be passed: "default" is the only name AWS supports (and moto requires it).
    return {"policy": kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]}


def plan(ctx, facts: dict) -> StepPlan:
    doc = desired(ctx)
    key_id = ctx.known("key_id")
    step = StepPlan(NUMBER, KEY, TITLE, Action.NOOP, "", documents={"key_policy": doc})
    put = Call(Account.PROVIDER, "kms", "put_key_policy",
               {"KeyId": key_id, "PolicyName": "default", "Policy": JsonDoc(doc)},
               record=Record("kms_key_policy", key_id, arn=ctx.known("key_arn")),
               retry=Retry(INVALID_PRINCIPAL, ("principal",), "a new IAM principal is not yet visible to KMS"),
               description="write the key policy")
    if facts["policy"] is None:
        step.action, step.reason, step.calls = Action.CREATE, "the key is new", [put]
    elif not policies.equal(facts["policy"], doc):
        diff = policies.differing_statements(facts["policy"], doc)
        step.action, step.reason, step.calls = Action.REPAIR, "key policy differs: " + "; ".join(diff), [put]
        step.problems = diff
        step.drift = policies.statement_drift(facts["policy"], doc, "key_policy")
    elif not ctx.state.find("kms_key_policy", key_id):
        step.action, step.reason = Action.REPAIR, "key policy is current but was not recorded"
        step.calls = [Call(Account.PROVIDER, "xacct", "record", {}, record=put.record, description="record the key policy")]
    else:
        step.reason = "key policy is current"
    return step


def teardown(row, state) -> list[Call]:
    # The policy goes with the key; nothing to call.
    return [Call(Account.PROVIDER, "xacct", "record", {}, forget=(row.kind, row.id), description="forget the key policy")]
