"""Step 4 (provider): the secret's resource policy — only the access role, only AWSCURRENT.

Runs after step 5: a policy naming a role that does not exist yet is rejected, and a brand-new role
may be reported as an invalid principal for a few seconds (bounded retry)."""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.models import (
    Account, Action, Call, Inspection, JsonDoc, Record, Resource, Retry, Step, StepPlan, render_value,
)
from xacct_dataapi.steps.common import INVALID_PRINCIPAL, plan_policy_document

NUMBER = 4


def inspect(ctx, known) -> Inspection:
    secret_arn = known.get("secret_arn")
    sm = ctx.client(Account.PROVIDER, "secretsmanager")
    return Inspection({"policy": sm.get_resource_policy(SecretId=secret_arn).get("ResourcePolicy") if secret_arn else None})


def desired(ctx) -> list[Resource]:
    doc = policies.secret_resource_policy(ctx.known("access_role_arn"), ctx.known("secret_arn"), ctx.cfg.secret_readers)
    return [Resource("secret_policy", ctx.names.secret, Account.PROVIDER, arn=ctx.known("secret_arn"),
                     documents={"secret_policy": doc})]


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    (want,) = desired
    doc = want.documents["secret_policy"]
    expected = render_value(doc)  # what AWS would hold; a Ref not yet known never compares equal
    step = StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP, "")
    record = Record("secret_policy", want.id, arn=want.arn)
    put = Call(Account.PROVIDER, "secretsmanager", "put_resource_policy",
               {"SecretId": want.arn, "ResourcePolicy": JsonDoc(doc), "BlockPublicPolicy": True},
               record=record,
               retry=Retry(INVALID_PRINCIPAL, ("principal",), "the new access role is not yet visible to Secrets Manager"),
               description="write the secret's resource policy")
    return plan_policy_document(step, facts["policy"], expected, put=put,
                                recorded=bool(ctx.state.find("secret_policy", want.id)), what="secret policy",
                                document="secret_policy", missing_reason="the secret has no resource policy")

STEP = Step(NUMBER, "secret_policy", "Secret policy allows the access role (provider)", ("secret_policy",),
            inspect=inspect, desired=desired, plan=plan,
            needs=("secret_arn",))
