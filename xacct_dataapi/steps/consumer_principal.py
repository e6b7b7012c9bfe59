"""Step 6 (consumer): the principal allowed to assume the access role.

By default a new IAM user (as in the original recipe). With --consumer-role / --consumer-user the
application's existing principal is adopted: xacct adds one inline policy and never deletes the principal.
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi import policies
from xacct_dataapi.aws import is_not_found
from xacct_dataapi.models import (
    Account, Action, Bookkeeping, Call, Inspection, JsonDoc, Record, Resource, Step, StepPlan,
)
from xacct_dataapi.context import principal_identity
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.steps.common import (
    access_role_arn, iam_tags, not_ours, owned, tag_dict,
)

NUMBER = 6


def inspect(ctx, known) -> Inspection:
    iam = ctx.client(Account.CONSUMER, "iam")
    # From the flags, not ctx.principal: that waits for the consumer's account id (STS), which these reads don't need.
    # An adopted principal's existence is preflight's to check (describe_principal).
    kind, name, adopted = principal_identity(ctx.cfg)
    facts = {"exists": adopted, "tags": {}, "policy": None}
    policy_name = ctx.names.consumer_policy
    user_r, policy_r = gather(  # both at once: one round trip
        lambda: None if adopted else iam.get_user(UserName=name)["User"],
        lambda: (iam.get_role_policy(RoleName=name, PolicyName=policy_name) if kind == "role"
                 else iam.get_user_policy(UserName=name, PolicyName=policy_name))["PolicyDocument"])
    if not adopted:
        try:
            user = unwrap(user_r)
            facts["exists"] = True
            facts["tags"] = tag_dict(user.get("Tags") or iam.list_user_tags(UserName=name).get("Tags"))
        except ClientError as exc:
            if not is_not_found(exc):
                raise
    if facts["exists"]:
        try:
            facts["policy"] = unwrap(policy_r)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
    return Inspection(facts)


def _principal_kind(p) -> str:
    return "iam_user" if not p.adopted else ("consumer_role" if p.kind == "role" else "consumer_user")


def desired(ctx) -> list[Resource]:
    p = ctx.principal
    doc = policies.consumer_assume_policy(access_role_arn(ctx))
    policy_kind = "consumer_role_policy" if p.kind == "role" else "consumer_user_policy"
    return [
        # An adopted principal is the application's: xacct records it but never creates, tags or deletes it.
        Resource(_principal_kind(p), p.name, Account.CONSUMER, arn=p.arn,
                 tags={} if p.adopted else ctx.names.tags(), properties={"Adopted": p.adopted, "Type": p.kind}),
        Resource(policy_kind, f"{p.name}/{ctx.names.consumer_policy}", Account.CONSUMER,
                 properties={"PolicyName": ctx.names.consumer_policy}, documents={"consumer_assume_role": doc}),
    ]


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    p = ctx.principal
    want_principal, want_policy = desired
    doc = want_policy.documents["consumer_assume_role"]
    step = StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP, "")
    policy_name = want_policy.properties["PolicyName"]
    policy_kind = want_policy.kind
    method = "put_role_policy" if p.kind == "role" else "put_user_policy"
    name_key = "RoleName" if p.kind == "role" else "UserName"
    put = Call(Account.CONSUMER, "iam", method, {name_key: p.name, "PolicyName": policy_name, "PolicyDocument": JsonDoc(doc)},
               record=Record(policy_kind, want_policy.id, name=policy_name),
               description=f"let {p.kind} {p.name} assume the access role")
    reasons = []
    if not p.adopted and not facts["exists"]:
        step.action, step.reason = Action.CREATE, f"no user named {p.name}"
        step.calls = [
            Call(Account.CONSUMER, "iam", "create_user", {"UserName": p.name, "Tags": iam_tags(want_principal.tags)},
                 record=Record("iam_user", p.name, arn=p.arn), description=f"create user {p.name}"),
            put,
        ]
        return step
    if not p.adopted and not owned(facts["tags"], ctx.names.deployment):
        raise not_ours("IAM user", p.name, ctx.names.deployment, ctx.consumer_account)
    principal_kind = want_principal.kind
    if not ctx.state.find(principal_kind, p.name):
        reasons.append(f"{p.kind} {p.name} " + ("adopted" if p.adopted else "exists but was not recorded"))
        step.calls.append(Bookkeeping(Account.CONSUMER, record=Record(principal_kind, p.name, arn=p.arn, created=not p.adopted),
                                      description=f"record {p.kind} {p.name}" + (" (adopted: never deleted)" if p.adopted else "")))
    if facts["policy"] is None:
        reasons.append(f"inline policy {policy_name} is missing")
        step.calls.append(put)
    elif not policies.equal(facts["policy"], doc):
        diff = policies.differing_statements(facts["policy"], doc)
        step.problems = diff
        step.drift = policies.statement_drift(facts["policy"], doc, "consumer_assume_role")
        reasons.append("assume-role policy differs: " + "; ".join(diff))
        step.calls.append(put)
    elif not ctx.state.find(policy_kind, want_policy.id):
        reasons.append("policy exists but was not recorded")
        step.calls.append(Bookkeeping(Account.CONSUMER, record=put.record, description="record the policy"))
    if step.calls:
        fresh = facts["policy"] is None and not ctx.state.find(policy_kind, want_policy.id)
        step.action = Action.CREATE if fresh else Action.REPAIR
        step.reason = "; ".join(reasons)
    else:
        step.reason = f"{p.kind} {p.name} may assume the access role"
    return step


STEP = Step(NUMBER, "consumer_principal", "Consumer principal may assume the role (consumer)",
            ("iam_user", "consumer_role", "consumer_user", "consumer_role_policy", "consumer_user_policy"),
            inspect=inspect, desired=desired, plan=plan)
