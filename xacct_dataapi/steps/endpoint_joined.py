"""Step 7 for a deployment joining another xacct deployment's rds-data endpoint in its VPC: its own security group
holds its membership facts (attached to nothing), the endpoint's group gains its client CIDRs and the policy its
cluster's statement (endpoint_members.py). Subnets and private DNS stay the business of the deployment that made it."""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.config import TAG_DEPLOYMENT
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Account, Action, Bookkeeping, Call, Operation, Record, Ref, Resource, StepPlan, Wait, WaitFor
from xacct_dataapi.steps.common import iam_tags, tag_dict
from xacct_dataapi.steps.endpoint_members import FULL_HINT, MemberFacts, join, too_many
from xacct_dataapi.steps.endpoint_rules import https_rule, rules_of

PENDING_STATES = ("pending", "pendingacceptance", "modifying")
# The endpoint's State in DescribeVpcEndpoints, lower-cased (JMESPath, waiting.state_of); "deleted" when none is listed.
ENDPOINT_STATE = "length(VpcEndpoints || `[]`) == `0` && 'deleted' || lower(VpcEndpoints[0].State || '')"


def me(ctx, group_id=None) -> MemberFacts:
    """This deployment's facts as a member of the VPC's endpoint."""
    return MemberFacts(ctx.cluster.arn, tuple(ctx.client_cidrs), group_id)


def is_member(ctx, facts: dict) -> bool:
    """AWS shows this deployment as a member: its own group names the endpoint, its cluster and its CIDRs."""
    found = facts["members"].get(ctx.names.deployment)
    return found is not None and found == me(ctx, facts["own"] and facts["own"]["GroupId"])


def available(endpoint_id, deferred: bool = False) -> Wait:
    # An endpoint that lands in `failed` or `rejected` stops the wait at once (waiting cannot help).
    return Wait("ec2", "describe_vpc_endpoints", {"VpcEndpointIds": [endpoint_id]}, state=ENDPOINT_STATE,
                pending=PENDING_STATES, target=("available",),
                what="the rds-data endpoint to become available", account=Account.CONSUMER, deferred=deferred)


def join_call(ctx, ep_id: str, group_id, description: str) -> Operation:
    return Operation(Account.CONSUMER, name="ec2:join_shared_endpoint",
                     params={"VpcEndpointId": ep_id, "Member": ctx.names.deployment, "ClusterArn": ctx.cluster.arn,
                             "GroupId": group_id, "Cidrs": list(ctx.client_cidrs)},
                     description=description)


def _member_group(ctx, own: dict | None, want_sg: Resource, step: StepPlan) -> object:
    """This deployment's own group (made if missing, recorded if not yet): where its membership facts live."""
    names = ctx.names
    if own is None:
        step.calls.append(Call(
            Account.CONSUMER, "ec2", "create_security_group",
            {"GroupName": names.security_group, "VpcId": ctx.cfg.vpc_id,
             "Description": f"xacct {names.deployment}: membership of the VPC's shared rds-data endpoint",
             "TagSpecifications": [{"ResourceType": "security-group", "Tags": iam_tags(want_sg.tags)}]},
            outputs={"member_group_id": "GroupId"}, record=Record("security_group", Ref("member_group_id"),
                                                                   name=names.security_group),
            description="create this deployment's member group (attached to nothing; its tags are its membership)"))
        return Ref("member_group_id")
    if not ctx.state.find("security_group", own["GroupId"]):
        step.calls.append(Bookkeeping(Account.CONSUMER, record=Record("security_group", own["GroupId"],
                                                                      name=names.security_group),
                                      description="record this deployment's member group"))
    return own["GroupId"]


def plan_joined(ctx, facts: dict, want_sg: Resource, want_ep: Resource, step: StepPlan) -> StepPlan:
    """Record the endpoint and its group as shared, keep this deployment's facts on its own group, and have the
    policy admit its cluster's access roles and the group its client CIDRs."""
    ep, sg, names = facts["endpoint"], facts["sg"], ctx.names
    ep_id, owner = ep["VpcEndpointId"], tag_dict(ep.get("Tags")).get(TAG_DEPLOYMENT)
    reasons = [f"joins endpoint {ep_id} of xacct deployment {owner!r} (one rds-data endpoint serves every cluster "
               "of the region; its policy admits only xacct's access roles on its members' clusters)"]
    for kind, rid, name in (("vpc_endpoint", ep_id, None), ("security_group", sg and sg["GroupId"], sg and sg.get("GroupName"))):
        if rid and not ctx.state.find(kind, rid):
            step.calls.append(Bookkeeping(Account.CONSUMER, record=Record(kind, rid, name=name),
                                          description=f"record shared {kind.replace('_', ' ')} {rid}"))
    group_id = _member_group(ctx, facts["own"], want_sg, step)
    doc, have = want_ep.documents["endpoint_policy"], ep.get("PolicyDocument") or "{}"
    full = policies.is_full_access(have)
    untagged = not is_member(ctx, facts)
    if full:
        reasons.append("its policy is AWS's full-access default, which admits this deployment's role already")
    elif want_ep.properties["PolicyMode"] == "full":
        raise UsageError(f"--endpoint-policy full: endpoint {ep_id} in {ctx.cfg.vpc_id} is shared with deployment "
                         f"{owner!r}, whose restricted policy admits only its members.",
                         "Join it with the default --endpoint-policy restricted (this deployment's cluster is added).")
    if untagged:
        me = MemberFacts(ctx.cluster.arn, tuple(ctx.client_cidrs))
        problem = too_many(ep_id, ctx.cfg.vpc_id, {**facts["members"], names.deployment: me})
        if problem:
            raise UsageError(f"Deployment {names.deployment!r} cannot join: {problem}.", FULL_HINT)
        reasons.append("its members gain this deployment")
    elif not full and not policies.equal(have, doc):
        reasons.append("its policy differs from the one its members derive")
    missing = rules_of([https_rule(ctx.client_cidrs, "")]) - rules_of((sg or {}).get("IpPermissions"))
    if missing:
        reasons.append("its security group does not admit HTTPS from " + ", ".join(sorted(r[3] for r in missing)))
        step.problems.append(f"security group {sg and sg['GroupId']}: ingress tcp/443 missing")
    if untagged or missing or not (full or policies.equal(have, doc)):
        step.calls.append(join_call(ctx, ep_id, group_id, "write this deployment's membership on its group; the "
                                                          "endpoint's policy and rules are rewritten from the members"))
    if str(ep.get("State", "")).lower() != "available":
        step.calls.append(WaitFor(Account.CONSUMER, wait=available(ep_id),
                                  description=f"wait for endpoint {ep_id} to become available"))
    if step.calls:
        step.action = Action.CREATE if not ctx.state.find("vpc_endpoint", ep_id) else Action.REPAIR
        step.reason = "; ".join(reasons)
    else:
        step.reason = f"member of endpoint {ep_id} (made by deployment {owner!r}), admitted by its policy"
    step.reason += subnets_kept(ctx, ep, owner)
    return step


def subnets_kept(ctx, ep: dict, owner: str | None) -> str:
    """A member's --subnets are not the shared endpoint's (one endpoint serves the VPC; its maker places it): say so
    whenever they differ, in every plan, rather than drop them silently."""
    have = sorted(ep.get("SubnetIds") or [])
    if set(have) == set(ctx.cfg.subnet_ids):
        return ""
    maker = f"deployment {owner!r}" if owner else "the deployment that made it"
    change = (f"`xacct setup --name {owner} --subnets ...`" if owner else "the setup of the deployment that made it")
    return (f"; note: --subnets {','.join(ctx.cfg.subnet_ids)} is not applied: the shared endpoint {ep['VpcEndpointId']} "
            f"stays in its subnets {', '.join(have) or '(none)'}, which {maker} chose and its members share (its private DNS name serves "
            f"all of {ctx.cfg.vpc_id}); to move it, run {change}")
