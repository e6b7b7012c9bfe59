"""Step 4 (provider): the secret's resource policy — only the access role, only AWSCURRENT.

Runs after step 5: a policy naming a role that does not exist yet is rejected, and a brand-new role
may be reported as an invalid principal for a few seconds (bounded retry)."""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.models import Account, Action, Call, JsonDoc, Record, Retry, StepPlan, render_value
from xacct_dataapi.steps.common import INVALID_PRINCIPAL

NUMBER = 4
KEY = "secret_policy"
TITLE = "Secret policy allows the access role (provider)"
KINDS = ("secret_policy",)


def desired(ctx) -> dict:
    return policies.secret_resource_policy(ctx.known("access_role_arn"), ctx.known("secret_arn"))


def inspect(ctx) -> dict:
    arn = ctx.values.get("secret_arn")
    if not arn:
        return {"policy": None}
    sm = ctx.client(Account.PROVIDER, "secretsmanager")
    return {"policy": sm.get_resource_policy(SecretId=arn).get("ResourcePolicy")}


def plan(ctx, facts: dict) -> StepPlan:
    doc = desired(ctx)
    expected = render_value(doc)  # what AWS would hold; a Ref not yet known never compares equal
    step = StepPlan(NUMBER, KEY, TITLE, Action.NOOP, "", documents={"secret_policy": doc})
    record = Record("secret_policy", ctx.names.secret, arn=ctx.known("secret_arn"))
    put = Call(Account.PROVIDER, "secretsmanager", "put_resource_policy",
               {"SecretId": ctx.known("secret_arn"), "ResourcePolicy": JsonDoc(doc), "BlockPublicPolicy": True},
               record=record,
               retry=Retry(INVALID_PRINCIPAL, ("principal",), "the new access role is not yet visible to Secrets Manager"),
               description="write the secret's resource policy")
    if facts["policy"] is None:
        step.action, step.reason, step.calls = Action.CREATE, "the secret has no resource policy", [put]
    elif not policies.equal(facts["policy"], expected):
        diff = policies.differing_statements(facts["policy"], expected)
        step.action, step.reason, step.calls, step.problems = Action.REPAIR, "secret policy differs: " + "; ".join(diff), [put], diff
        step.drift = policies.statement_drift(facts["policy"], expected, "secret_policy")
    elif not ctx.state.find("secret_policy", ctx.names.secret):
        step.action, step.reason = Action.REPAIR, "secret policy is current but was not recorded"
        step.calls = [Call(Account.PROVIDER, "xacct", "record", {}, record=record, description="record the secret policy")]
    else:
        step.reason = "secret policy is current"
    return step


def teardown(row, state) -> list[Call]:
    return [Call(Account.PROVIDER, "xacct", "record", {}, forget=(row.kind, row.id), description="forget the secret policy")]
