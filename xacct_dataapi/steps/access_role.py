"""Step 5 (provider): the access role the consumer assumes to call the Data API.

Trust: the consumer account narrowed to the consumer principal (aws:PrincipalArn) plus an external id
xacct generates and records. Permissions: rds-data on the cluster, the secret, the key — by ARN only.

The role lives under the cluster's IAM path (config.Names.access_role_path), so the deployments on one cluster are
one ListRoles(PathPrefix) (data_api.other_deployments_on_cluster). A role made before that sits at `/`: IAM cannot
move a role to another path (UpdateRole takes only RoleName, Description and MaxSessionDuration,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateRole.html), so such a role is replaced: deleted with
its inline policy and created again, same name, at the new path, in one step. Its ARN changes with the path; the
key, endpoint and consumer policies (written earlier in the run) and the secret policy (later) name the new ARN.
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi import policies
from xacct_dataapi.config import EXTERNAL_ID_RE, new_external_id
from xacct_dataapi.resource_types.iam import delete_iam_principal
from xacct_dataapi.resource_types.widening import role_policy_names, role_widenings
from xacct_dataapi.aws import is_not_found
from xacct_dataapi.models import (
    Account, Action, Bookkeeping, Call, Inspection, JsonDoc, Operation, Record, Resource, Retry, Step, StepPlan,
)
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.steps.data_api import confirm_wait
from xacct_dataapi.steps.common import (
    INVALID_PRINCIPAL, access_role_path, iam_tags,
    not_ours, owned, tag_dict,
)

NUMBER = 5


def inspect(ctx, known) -> Inspection:
    iam = ctx.client(Account.PROVIDER, "iam")
    name = ctx.names.access_role
    role_r, policy_r, listed_r = gather(lambda: iam.get_role(RoleName=name)["Role"],  # at once: one round trip
                                        lambda: iam.get_role_policy(RoleName=name, PolicyName=ctx.names.access_role_policy),
                                        lambda: role_policy_names(iam, name))
    try:
        role = unwrap(role_r)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return Inspection({"role": None, "policy": None}, {"access_role_arn": None})
    trust = policies.parse(role.get("AssumeRolePolicyDocument") or "{}")
    tags = tag_dict(role.get("Tags") or iam.list_role_tags(RoleName=name).get("Tags"))
    policy = None
    try:
        policy = unwrap(policy_r)["PolicyDocument"]
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    values, foreign = {}, []
    if owned(tags, ctx.names.deployment):
        # What else gives the role's holders permissions: named by the plan, never removed (resource_types.widening).
        foreign = role_widenings(iam, name, role["Arn"], ctx.names.access_role_policy, unwrap(listed_r))
        # A role at another path is about to be replaced: its ARN is not the one the other policies must name (the
        # create call produces that one).
        values["access_role_arn"] = role["Arn"] if role.get("Path", "/") == access_role_path(ctx) else None
        # A run that died after CreateRole never recorded the external id: it lives in the trust policy.
        # Only one AWS would accept: a value read from AWS is untrusted input (it ends up in the operator's AWS config
        # through `connect`); anything else is left to the trust-policy repair, with a new external id.
        found = policies.external_id_of(trust)
        if not known.get("external_id") and found and EXTERNAL_ID_RE.match(found):
            values["external_id"] = found
    return Inspection({"role": role, "trust": trust, "tags": tags, "policy": policy, "foreign": foreign}, values)


def desired(ctx) -> list[Resource]:
    iam_name, policy_name = ctx.names.access_role, ctx.names.access_role_policy
    trust = policies.access_role_trust_policy(ctx.consumer_account, ctx.principal.arn, ctx.external_id_param(),
                                              ctx.partition)
    # --require-private-path: the endpoint step runs first, so its id is known (or a Ref its create call produces).
    vpce = ctx.known("endpoint_id") if ctx.cfg.require_private_path else None
    perms = policies.access_role_permissions(ctx.cluster.arn, ctx.known("secret_arn"), ctx.known("key_arn"), ctx.region,
                                             vpce)
    description = (f"xacct {ctx.names.deployment}: consumer {ctx.consumer_account} runs Data API statements on "
                   f"{ctx.cluster.id}")
    return [
        Resource("iam_role", iam_name, Account.PROVIDER, arn=ctx.known("access_role_arn"), tags=ctx.names.tags(),
                 properties={"Path": access_role_path(ctx), "MaxSessionDuration": 3600, "Description": description},
                 documents={"access_role_trust": trust}),
        Resource("iam_role_policy", f"{iam_name}/{policy_name}", Account.PROVIDER, properties={"PolicyName": policy_name},
                 documents={"access_role_permissions": perms}),
    ]


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    want_role, want_policy = desired
    iam_name, policy_name = want_role.id, want_policy.properties["PolicyName"]
    trust, perms = want_role.documents["access_role_trust"], want_policy.documents["access_role_permissions"]
    step = StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP, "")
    role = facts["role"]
    role_record = Record("iam_role", iam_name, arn=want_role.arn)
    put_policy = Call(Account.PROVIDER, "iam", "put_role_policy",
                      {"RoleName": iam_name, "PolicyName": policy_name, "PolicyDocument": JsonDoc(perms)},
                      record=Record("iam_role_policy", want_policy.id, name=policy_name),
                      description="attach the Data API permissions")
    create = Call(
        Account.PROVIDER, "iam", "create_role",
        {"RoleName": iam_name, "AssumeRolePolicyDocument": JsonDoc(trust), **want_role.properties,
         "Tags": iam_tags(want_role.tags)},
        outputs={"access_role_arn": "Role.Arn"}, store={"external_id": ctx.external_id()}, record=role_record,
        retry=Retry(INVALID_PRINCIPAL, ("principal",), "a new IAM principal is not yet visible"),
        description=f"create the access role at path {want_role.properties['Path']}")
    if role is None:
        step.action, step.reason = Action.CREATE, f"no role named {iam_name}"
        step.calls += [create, put_policy]
        if ctx.cluster.http_endpoint_enabled:  # the role is this deployment's fact on the shared Data API switch
            step.calls.append(confirm_wait(ctx))
        return step
    if not owned(facts["tags"], ctx.names.deployment):
        raise not_ours("IAM role", iam_name, ctx.names.deployment, ctx.provider_account)
    have_path, want_path = role.get("Path", "/"), want_role.properties["Path"]
    step.foreign = [w.line() for w in facts.get("foreign", [])]
    if have_path != want_path and step.foreign:
        # Replacing the role would detach or delete them: not xacct's to remove.
        step.action, step.reason = Action.CHECK, (f"role at path {have_path} must be replaced ({want_path}), but it "
                                                  "carries policies xacct did not add")
        return step
    if have_path != want_path:
        # Same name, so the state row (iam_role, name) stays: a crash after the delete leaves no role, and the
        # re-run creates it (the plan above); a crash after the create finds it at the right path.
        step.action = Action.REPLACE
        step.reason = f"role at path {have_path} → {want_path}: IAM cannot move a role; replaced"
        step.calls += [Operation(Account.PROVIDER, name="iam:delete_role_with_policies", run=delete_iam_principal,
                                 params={"RoleName": iam_name},
                                 description=f"delete role {iam_name} at path {have_path} (IAM cannot change a "
                                             "role's path)"),
                       create, put_policy]
        return step
    reasons = []
    recorded = ctx.state.find("iam_role", iam_name)
    if not recorded:
        step.calls.append(Bookkeeping(Account.PROVIDER, record=role_record, store={"external_id": ctx.external_id()},
                                      description="record the role"))
        reasons.append("role exists but was not recorded")
    elif recorded.arn != role["Arn"]:
        # A run killed right after re-creating the role at its path: the row still holds the ARN at the old path.
        step.calls.append(Bookkeeping(Account.PROVIDER, record=role_record, description="record the role's ARN"))
        reasons.append("the recorded ARN is the role's old one")
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
    elif not ctx.state.find("iam_role_policy", want_policy.id):
        step.calls.append(Bookkeeping(Account.PROVIDER, record=put_policy.record, description="record the policy"))
        reasons.append("policy exists but was not recorded")
    if step.calls:
        step.action, step.reason = Action.REPAIR, "; ".join(reasons)
    else:
        step.reason = f"role {iam_name} exists with the expected trust and permissions"
    return step


STEP = Step(NUMBER, "access_role", "Access role for the Data API (provider)", ("iam_role", "iam_role_policy"),
            inspect=inspect, desired=desired, plan=plan,
            provides=("access_role_arn", "external_id"), generates={"external_id": new_external_id})
