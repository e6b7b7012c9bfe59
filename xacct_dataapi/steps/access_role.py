"""Step 5 (provider): the access role the consumer assumes to call the Data API.

Trust: the consumer account narrowed to the consumer principal (aws:PrincipalArn) plus an external id
xacct generates and records. Permissions: rds-data on the cluster, the secret, the key — by ARN only.
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi import policies
from xacct_dataapi.aws import is_not_found
from xacct_dataapi.models import Account, Action, Call, JsonDoc, Record, Retry, StepPlan
from xacct_dataapi.steps.common import INVALID_PRINCIPAL, iam_tags, not_ours, owned, tag_dict

NUMBER = 5
KEY = "access_role"
TITLE = "Access role for the Data API (provider)"
KINDS = ("iam_role", "iam_role_policy")


def _external_id_of(trust: dict | None) -> str | None:
    for s in (trust or {}).get("Statement", []):
        ext = s.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if isinstance(ext, str):
            return ext
    return None


def inspect(ctx) -> dict:
    iam = ctx.client(Account.PROVIDER, "iam")
    name = ctx.names.access_role
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        ctx.values.pop("access_role_arn", None)
        return {"role": None, "policy": None}
    trust = policies.parse(role.get("AssumeRolePolicyDocument") or "{}")
    tags = tag_dict(role.get("Tags") or iam.list_role_tags(RoleName=name).get("Tags"))
    policy = None
    try:
        policy = iam.get_role_policy(RoleName=name, PolicyName=ctx.names.access_role_policy)["PolicyDocument"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    if owned(tags, ctx.names.deployment):
        ctx.values["access_role_arn"] = role["Arn"]
        # A run that died after CreateRole never recorded the external id: it lives in the trust policy.
        if not ctx.values.get("external_id") and _external_id_of(trust):
            ctx.values["external_id"] = _external_id_of(trust)
    return {"role": role, "trust": trust, "tags": tags, "policy": policy}


def trust_document(ctx) -> dict:
    return policies.access_role_trust_policy(ctx.consumer_account, ctx.principal.arn, ctx.external_id_param(), ctx.partition)


def permissions_document(ctx) -> dict:
    return policies.access_role_permissions(ctx.cluster.arn, ctx.known("secret_arn"), ctx.known("key_arn"), ctx.region)


def plan(ctx, facts: dict) -> StepPlan:
    iam_name, policy_name = ctx.names.access_role, ctx.names.access_role_policy
    trust, perms = trust_document(ctx), permissions_document(ctx)
    step = StepPlan(NUMBER, KEY, TITLE, Action.NOOP, "", documents={"access_role_trust": trust, "access_role_permissions": perms})
    role = facts["role"]
    role_record = Record("iam_role", iam_name, arn=ctx.known("access_role_arn"))
    put_policy = Call(Account.PROVIDER, "iam", "put_role_policy",
                      {"RoleName": iam_name, "PolicyName": policy_name, "PolicyDocument": JsonDoc(perms)},
                      record=Record("iam_role_policy", f"{iam_name}/{policy_name}", name=policy_name),
                      description="attach the Data API permissions")
    if role is None:
        step.action, step.reason = Action.CREATE, f"no role named {iam_name}"
        step.calls.append(Call(
            Account.PROVIDER, "iam", "create_role",
            {"RoleName": iam_name, "AssumeRolePolicyDocument": JsonDoc(trust), "MaxSessionDuration": 3600,
             "Description": f"xacct {ctx.names.deployment}: consumer {ctx.consumer_account} runs Data API statements on {ctx.cluster.id}",
             "Tags": iam_tags(ctx.names.tags())},
            outputs={"access_role_arn": "Role.Arn"}, store={"external_id": ctx.external_id()}, record=role_record,
            retry=Retry(INVALID_PRINCIPAL, ("principal",), "a new IAM principal is not yet visible"),
            description="create the access role"))
        step.calls.append(put_policy)
        return step
    if not owned(facts["tags"], ctx.names.deployment):
        raise not_ours("IAM role", iam_name, ctx.names.deployment, ctx.provider_account)
    reasons = []
    if not ctx.state.find("iam_role", iam_name):
        step.calls.append(Call(Account.PROVIDER, "xacct", "record", {}, record=role_record, store={"external_id": ctx.external_id()},
                               description="record the role"))
        reasons.append("role exists but was not recorded")
    if not policies.equal(facts["trust"], trust):
        diff = policies.differing_statements(facts["trust"], trust)
        step.problems += [f"trust {d}" for d in diff]
        step.drift += policies.statement_drift(facts["trust"], trust, "access_role_trust")
        reasons.append("trust policy differs: " + "; ".join(diff))
        step.calls.append(Call(Account.PROVIDER, "iam", "update_assume_role_policy",
                               {"RoleName": iam_name, "PolicyDocument": JsonDoc(trust)},
                               retry=Retry(INVALID_PRINCIPAL, ("principal",), "a new IAM principal is not yet visible"),
                               description="restore the trust policy"))
    if facts["policy"] is None:
        reasons.append(f"inline policy {policy_name} is missing")
        step.calls.append(put_policy)
    elif not policies.equal(facts["policy"], perms):
        diff = policies.differing_statements(facts["policy"], perms)
        step.problems += [f"permissions {d}" for d in diff]
        step.drift += policies.statement_drift(facts["policy"], perms, "access_role_permissions")
        reasons.append("permissions differ: " + "; ".join(diff))
        step.calls.append(put_policy)
    elif not ctx.state.find("iam_role_policy", f"{iam_name}/{policy_name}"):
        step.calls.append(Call(Account.PROVIDER, "xacct", "record", {}, record=put_policy.record, description="record the policy"))
        reasons.append("policy exists but was not recorded")
    if step.calls:
        step.action, step.reason = Action.REPAIR, "; ".join(reasons)
    else:
        step.reason = f"role {iam_name} exists with the expected trust and permissions"
    return step


def teardown(row, state) -> list[Call]:
    if row.kind == "iam_role_policy":
        role, policy = row.id.split("/", 1)
        return [Call(Account.PROVIDER, "iam", "delete_role_policy", {"RoleName": role, "PolicyName": policy},
                     forget=(row.kind, row.id), ok_codes=("NoSuchEntity",), description=f"delete inline policy {policy}")]
    return [Call(Account.PROVIDER, "xacct", "delete_iam_role", {"RoleName": row.id}, forget=(row.kind, row.id),
                 description=f"delete role {row.id}")]
