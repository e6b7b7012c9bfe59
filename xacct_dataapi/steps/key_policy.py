"""Step 2 (provider): the key policy — the provider account keeps control; the access role (which the consumer
assumes) may kms:Decrypt only through Secrets Manager in this region. Named by aws:PrincipalArn, so the role
need not exist yet."""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.models import (
    Account, Action, Call, Inspection, JsonDoc, Record, Resource, Retry, Step, StepPlan,
)
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.resource_types.widening import key_grant_widenings
from xacct_dataapi.steps.common import INVALID_PRINCIPAL, access_role_arn, plan_policy_document

NUMBER = 2


def inspect(ctx, known) -> Inspection:
    def read(key_id: str) -> str:
        # PolicyName must be passed: "default" is the only name AWS supports (and moto requires it).
        return ctx.client(Account.PROVIDER, "kms").get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]

    if not known.get("key_id"):
        return Inspection({"policy": None, "foreign": []})
    key = known.get("key_arn") or known["key_id"]
    # KMS grants reach the key outside its policy: named by the plan, never revoked (resource_types.widening).
    kms = ctx.client(Account.PROVIDER, "kms")
    policy, grants = gather(lambda: read(known["key_id"]), lambda: key_grant_widenings(kms, key))  # one round trip
    return Inspection({"policy": unwrap(policy), "foreign": unwrap(grants)})


def desired(ctx) -> list[Resource]:
    doc = policies.key_policy(ctx.provider_account, access_role_arn(ctx), ctx.region, ctx.partition)
    return [Resource("kms_key_policy", ctx.known("key_id"), Account.PROVIDER, arn=ctx.known("key_arn"),
                     documents={"key_policy": doc})]


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    (want,) = desired
    doc = want.documents["key_policy"]
    step = StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP, "")
    record = Record("kms_key_policy", want.id, arn=want.arn)
    put = Call(Account.PROVIDER, "kms", "put_key_policy",
               {"KeyId": want.id, "PolicyName": "default", "Policy": JsonDoc(doc)}, record=record,
               retry=Retry(INVALID_PRINCIPAL, ("principal",), "a new IAM principal is not yet visible to KMS"),
               description="write the key policy")
    step.foreign = [w.line() for w in facts.get("foreign", [])]
    return plan_policy_document(step, facts["policy"], doc, put=put, recorded=bool(ctx.state.find("kms_key_policy", want.id)),
                                what="key policy", document="key_policy", missing_reason="the key is new")


STEP = Step(NUMBER, "key_policy", "Key policy grants the access role (provider)", ("kms_key_policy",), inspect=inspect,
            desired=desired, plan=plan, needs=("key_id",))
