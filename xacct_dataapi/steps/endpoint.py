"""Step 7 (consumer): a security group allowing HTTPS from the VPC, and the rds-data interface endpoint.

CreateVpcEndpoint has no name, so the endpoint is found by its xacct:deployment tag (set atomically at
creation through TagSpecifications). Only one endpoint per VPC can hold rds-data's private DNS name, and one
interface endpoint serves every cluster of the region: a deployment whose VPC already has an xacct endpoint
joins it, and a setup whose create AWS refuses for that reason joins the endpoint that won. Membership is
coordinated through AWS alone (endpoint_members.py): each member's facts are tags on its own security group, the
policy (one statement per cluster) and the group's rules are rewritten from them until they read back the same, and
the last member out deletes the endpoint and its security group. An endpoint xacct did not make is never adopted.
"""
from __future__ import annotations

import re

from xacct_dataapi import policies
from xacct_dataapi.config import TAG_DEPLOYMENT, TAG_MANAGED, Names
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import (
    Account, Action, Bookkeeping, Call, Inspection, JsonDoc, Operation, Record, Ref, Resource, Step, StepPlan,
    WaitFor,
)
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.state import ResourceRow
from xacct_dataapi.steps.common import access_role_path, iam_tags, not_ours, owned, tag_dict
# They register the procedures this step's Operations name (procedures.py).
from xacct_dataapi.steps import endpoint_cleanup, endpoint_create  # noqa: F401
from xacct_dataapi.steps.endpoint_joined import (
    PENDING_STATES, available as _available, is_member, join_call, me, plan_joined,
)
from xacct_dataapi.steps.endpoint_members import (
    ENDPOINT_TAG, LEGACY_MEMBER_TAG, TAG_VALUE_MAX, MemberFacts, describe,
    access_roles_on, list_member_groups, members_from,
)
from xacct_dataapi.steps.endpoint_rules import describe_endpoint_change, https_rule, rule_repairs

NUMBER = 7
KINDS = ("security_group", "vpc_endpoint")

LIVE_STATES = ("pendingacceptance", "pending", "available", "modifying", "failed", "rejected")


def service_name(region: str) -> str:
    return f"com.amazonaws.{region}.rds-data"


def inspect(ctx, known) -> Inspection:
    ec2 = ctx.client(Account.CONSUMER, "ec2")
    sgs_r, endpoints_r, groups_r = gather(  # all at once: one round trip
        lambda: ec2.describe_security_groups(Filters=[
            {"Name": "vpc-id", "Values": [ctx.cfg.vpc_id]},
            {"Name": "group-name", "Values": [ctx.names.security_group]},
        ])["SecurityGroups"],
        lambda: ec2.describe_vpc_endpoints(Filters=[
            {"Name": "vpc-id", "Values": [ctx.cfg.vpc_id]},
            {"Name": "service-name", "Values": [service_name(ctx.region)]},
        ])["VpcEndpoints"],
        lambda: list_member_groups(ec2, ctx.cfg.vpc_id))
    sgs, endpoints, groups = unwrap(sgs_r), unwrap(endpoints_r), unwrap(groups_r)
    sg = sgs[0] if sgs else None
    own = sg if sg and owned(tag_dict(sg.get("Tags")), ctx.names.deployment) else None
    live = [e for e in endpoints if str(e.get("State", "")).lower() in LIVE_STATES]
    ours = [e for e in live if owned(tag_dict(e.get("Tags")), ctx.names.deployment)]
    xacct_made = [e for e in live if e not in ours and e.get("PrivateDnsEnabled")
                  and tag_dict(e.get("Tags")).get(TAG_MANAGED) == "xacct"]
    others = [e for e in live if e not in ours and e not in xacct_made and e.get("PrivateDnsEnabled")]
    ep = sorted(ours or xacct_made, key=lambda e: e["VpcEndpointId"])[0] if (ours or xacct_made) else None
    joined = ep is not None and not ours
    if joined and ep.get("Groups"):
        # Joining another deployment's endpoint: its security group is the one that counts (and is shared too).
        shared = ep["Groups"][0]["GroupId"]
        sg = next((g for g in groups if g["GroupId"] == shared), None) or \
            ec2.describe_security_groups(GroupIds=[shared])["SecurityGroups"][0]
    members = members_from(ep, groups)
    others_facts = {k: [m.cluster_arn, m.cidrs and list(m.cidrs)] for k, m in members.items() if k != ctx.names.deployment}
    return Inspection({"sg": sg, "own": own, "endpoint": ep, "joined": joined, "conflicts": others, "members": members},
                      {"security_group_id": sg["GroupId"] if joined and sg else own and own["GroupId"],
                       "member_group_id": own and own["GroupId"],
                       "endpoint_id": ep and ep["VpcEndpointId"], "endpoint_members": others_facts or None,
                       # A joined endpoint stays where its maker put it, whatever this deployment's --subnets (step 8
                       # checks the NACLs of the subnets its interfaces are in); None: --subnets place it.
                       "joined_endpoint_subnet_ids": sorted(ep.get("SubnetIds") or []) if joined else None})


def members(ctx) -> dict[str, MemberFacts]:
    """Every member of the VPC's endpoint as inspected, this deployment as it wants to be."""
    found = {k: MemberFacts(c, None if cidrs is None else tuple(cidrs))
             for k, (c, cidrs) in (ctx.values.get("endpoint_members") or {}).items()}
    return {**found, ctx.names.deployment: me(ctx)}


def endpoint_policy(ctx) -> dict:
    """One statement per cluster its members use (the endpoint is shared by every deployment in the VPC)."""
    if ctx.cfg.endpoint_policy == "full":
        return policies.endpoint_full_access_policy()
    # Its own cluster's pattern from the context (an exported template names the cluster and account by parameter),
    # the same as endpoint_members.access_roles_on(ARN) when the ARN is known.
    own = policies.role_arn(ctx.provider_account, Names("*").access_role, ctx.partition, access_role_path(ctx))
    others = {m.cluster_arn for m in members(ctx).values()} - {ctx.cluster.arn}
    return policies.endpoint_policy_for_clusters([(own, ctx.cluster.arn), *((access_roles_on(c), c) for c in others)])


def client_cidrs(ctx) -> list[str]:
    """What the endpoint's group admits: every member's client CIDRs (this deployment's VPC and --client-cidr)."""
    return sorted({c for m in members(ctx).values() for c in (m.cidrs or ())})


def desired(ctx) -> list[Resource]:
    names, cidr, vpc = ctx.names, client_cidrs(ctx), ctx.cfg.vpc_id
    member_group = ctx.values.get("member_group_id")
    shared_group = ctx.values.get("security_group_id")
    own = [Resource("security_group", ctx.known("member_group_id"), Account.CONSUMER, tags={**names.tags(), "Name":
                    names.security_group}, properties={"GroupName": names.security_group, "VpcId": vpc})]
    return ([] if member_group is None or member_group == shared_group else own) + [
        Resource("security_group", ctx.known("security_group_id"), Account.CONSUMER,
                 tags={**names.tags(), "Name": names.security_group},
                 properties={"GroupName": names.security_group, "VpcId": vpc,
                             "Description": f"xacct {names.deployment}: HTTPS to the rds-data endpoint",
                             "Ingress": [https_rule(cidr, f"HTTPS to the rds-data endpoint from {vpc}'s clients")],
                             # The endpoint only ever answers: egress is HTTPS to the clients, not AWS's allow-all.
                             "Egress": [https_rule(cidr, "HTTPS to the clients only")]}),
        Resource("vpc_endpoint", ctx.known("endpoint_id"), Account.CONSUMER,
                 tags={**names.tags(), "Name": names.endpoint},
                 properties={"VpcEndpointType": "Interface", "VpcId": vpc, "ServiceName": service_name(ctx.region),
                             "SubnetIds": list(ctx.cfg.subnet_ids), "PrivateDnsEnabled": True,
                             # "full" sends no policy at all: AWS then applies its default, which works for every service.
                             "PolicyMode": ctx.cfg.endpoint_policy},
                 documents={"endpoint_policy": endpoint_policy(ctx)}),
    ]


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    want_sg, want_ep = desired[-2:]
    names, cidr = ctx.names, ", ".join(ctx.client_cidrs)
    doc = want_ep.documents["endpoint_policy"]
    full_access = want_ep.properties["PolicyMode"] == "full"
    step = StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP, "")
    if len(",".join(ctx.client_cidrs)) > TAG_VALUE_MAX:  # its member facts hold them in one EC2 tag value
        raise UsageError(f"--client-cidr: {cidr} (with the VPC's own blocks) are {len(','.join(ctx.client_cidrs))} "
                         f"characters together; the endpoint membership records them in one tag of {TAG_VALUE_MAX}.",
                         "Pass fewer --client-cidr values (a wider network covers several).")
    if facts.get("joined"):
        return plan_joined(ctx, facts, want_sg, want_ep, step)
    reasons: list[str] = []
    sg = facts["sg"]
    (ingress,), (egress,) = want_sg.properties["Ingress"], want_sg.properties["Egress"]
    if sg is None:
        reasons.append(f"no security group {names.security_group}")
        sg_id = Ref("security_group_id")
        step.calls.append(
            Call(Account.CONSUMER, "ec2", "create_security_group",
                 {"GroupName": want_sg.properties["GroupName"], "VpcId": want_sg.properties["VpcId"],
                  "Description": want_sg.properties["Description"],
                  "TagSpecifications": [{"ResourceType": "security-group", "Tags": iam_tags(want_sg.tags)}]},
                 outputs={"security_group_id": "GroupId"}, record=Record("security_group", Ref("security_group_id"), name=names.security_group),
                 description="create the security group"))
        new_group_rules = [
            Call(Account.CONSUMER, "ec2", "authorize_security_group_ingress", {"GroupId": sg_id, "IpPermissions": [ingress]},
                 ok_codes=("InvalidPermission.Duplicate",), description=f"allow tcp/443 in from {cidr}"),
            # A new group allows all egress; the endpoint only ever answers, so narrow it to HTTPS in the VPC.
            Call(Account.CONSUMER, "ec2", "revoke_security_group_egress",
                 {"GroupId": sg_id, "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
                 ok_codes=("InvalidPermission.NotFound",), description="remove the default allow-all egress"),
            Call(Account.CONSUMER, "ec2", "authorize_security_group_egress", {"GroupId": sg_id, "IpPermissions": [egress]},
                 ok_codes=("InvalidPermission.Duplicate",), description=f"allow tcp/443 out to {cidr}"),
        ]
    else:
        if not owned(tag_dict(sg.get("Tags")), names.deployment):
            raise not_ours("security group", names.security_group, names.deployment, ctx.consumer_account)
        sg_id = sg["GroupId"]
        if not ctx.state.find("security_group", sg_id):
            reasons.append(f"security group {sg_id} exists but was not recorded")
            step.calls.append(Bookkeeping(Account.CONSUMER, record=Record("security_group", sg_id, name=names.security_group),
                                          description="record the group"))
        step.calls += rule_repairs(sg, sg_id, ingress, egress, reasons, step.problems)
    ep = facts["endpoint"]
    if ep is None:
        if facts["conflicts"]:
            other = facts["conflicts"][0]
            owner = tag_dict(other.get("Tags")).get(TAG_DEPLOYMENT)
            by = f"xacct deployment {owner!r}" if owner else "something other than xacct"
            raise UsageError(
                f"VPC {ctx.cfg.vpc_id} already has an rds-data endpoint with private DNS ({other['VpcEndpointId']}), "
                f"created by {by}, not by deployment {names.deployment!r}.",
                "Only one endpoint per VPC can own rds-data's private DNS name. Reuse that VPC's existing deployment "
                "(its --name), or delete the other endpoint, then re-run.",
            )
        reasons.append("no rds-data endpoint tagged for this deployment")
        if ctx.cfg.endpoint_policy != "full":
            reasons.append(f"note: private DNS sends every rds-data call from {ctx.cfg.vpc_id} through it, and its policy "
                           f"admits only the access role on {ctx.cluster.id} (--endpoint-policy full keeps other Data API "
                           "users in this VPC working)")
        props = {k: v for k, v in want_ep.properties.items() if k != "PolicyMode"}
        create = {**props, "SecurityGroupIds": [sg_id], **({} if full_access else {"PolicyDocument": JsonDoc(doc)}),
                  "TagSpecifications": [{"ResourceType": "vpc-endpoint", "Tags": iam_tags(want_ep.tags)}]}
        # An Operation, not a Call: when another setup in this VPC made its endpoint first, AWS refuses a second
        # one with private DNS, and this deployment joins that one instead (endpoint_members.create_or_join).
        step.calls.append(Operation(
            Account.CONSUMER, name="ec2:create_vpc_endpoint",
            params={"Create": create, "Member": names.deployment, "ClusterArn": ctx.cluster.arn},
            outputs={"endpoint_id": "VpcEndpoint.VpcEndpointId"},
            record=Record("vpc_endpoint", Ref("endpoint_id"), name=names.endpoint),
            wait=_available(Ref("endpoint_id"), deferred=True), description="create the interface endpoint in "
                                                                            + ", ".join(ctx.cfg.subnet_ids)))
    else:
        ep_id = ep["VpcEndpointId"]
        if not ctx.state.find("vpc_endpoint", ep_id):
            reasons.append(f"endpoint {ep_id} exists but was not recorded")
            step.calls.append(Bookkeeping(Account.CONSUMER, record=Record("vpc_endpoint", ep_id, name=names.endpoint),
                                          description="record the endpoint"))
        modify: dict = {}
        have_subnets, want_subnets = set(ep.get("SubnetIds", [])), set(ctx.cfg.subnet_ids)
        if want_subnets - have_subnets:
            modify["AddSubnetIds"] = sorted(want_subnets - have_subnets)
        if have_subnets - want_subnets:
            modify["RemoveSubnetIds"] = sorted(have_subnets - want_subnets)
        groups = {g["GroupId"] for g in ep.get("Groups", [])}
        if sg is None or sg["GroupId"] not in groups:
            modify["AddSecurityGroupIds"] = [sg_id]
        if not ep.get("PrivateDnsEnabled"):
            modify["PrivateDnsEnabled"] = True
        if full_access and not policies.is_full_access(ep.get("PolicyDocument")):
            modify["ResetPolicy"] = True
        elif not full_access and policies.is_full_access(ep.get("PolicyDocument")):
            modify["PolicyDocument"] = JsonDoc(doc)  # back from --endpoint-policy full: converging leaves full alone
        untagged = not is_member(ctx, facts)
        if untagged:
            reasons.append(f"security group {sg_id} does not name this deployment's membership of endpoint {ep_id}")
        if not full_access and not policies.equal(ep.get("PolicyDocument") or "{}", doc):
            reasons.append("its policy differs from the one its members derive")
            step.problems.append(f"endpoint {ep_id}: PolicyDocument")
        if untagged or (not full_access and not policies.equal(ep.get("PolicyDocument") or "{}", doc)):
            step.calls.append(join_call(ctx, ep_id, sg_id, "tag this deployment's group with its membership and "
                                                           "rewrite the endpoint's policy and rules from the members"))
        if modify:
            reasons.append("endpoint differs: " + describe_endpoint_change(modify))
            step.problems.append(f"endpoint {ep_id}: " + ", ".join(modify))
            step.calls.append(Call(Account.CONSUMER, "ec2", "modify_vpc_endpoint", {"VpcEndpointId": ep_id, **modify},
                                   description="repair the endpoint"))
        ep_state = str(ep.get("State", "")).lower()
        if ep_state != "available":
            reasons.append(f"endpoint {ep_id} is {ep.get('State')}, not available")
            if ep_state not in PENDING_STATES:  # still being made is progress, not drift; failed/rejected is a problem
                step.problems.append(f"endpoint {ep_id} is {ep.get('State')}")
            step.calls.append(WaitFor(Account.CONSUMER, wait=_available(ep_id),
                                      description=f"wait for endpoint {ep_id} to become available"))
    if sg is None:
        # A new endpoint is made right after its group, before the group's rules: the endpoint takes minutes to become
        # available (its wait is deferred), and rules apply to the interfaces that use the group whenever they land
        # (EC2 user guide, "Security group rules": changes apply automatically to all associated resources). A crash
        # before the rules leaves a recorded group whose missing and extra rules the re-run repairs (above).
        step.calls += new_group_rules
    if ep is None:
        # Last: write this deployment's facts on its group and confirm the membership; if the endpoint turned out to
        # be another deployment's, this run's group stays as its member group and the endpoint's is recorded too.
        step.calls.append(Operation(
            Account.CONSUMER, name="ec2:confirm_endpoint_membership",
            params={"VpcEndpointId": Ref("endpoint_id"), "Member": names.deployment, "ClusterArn": ctx.cluster.arn,
                    "OwnGroupId": sg_id, "OwnGroupName": names.security_group, "Cidrs": list(ctx.client_cidrs)},
            outputs={"security_group_id": "SecurityGroupId", "security_group_name": "GroupName"},
            record=Record("security_group", Ref("security_group_id"), name=Ref("security_group_name")),
            description="confirm this deployment's membership of the endpoint (its facts, the policy admitting it)"))
    # A recorded group or endpoint that is not the one kept here (another VPC, or deleted by hand) is not forgotten
    # here: the planner replaces it (its teardown, which looks it up by its own id) after this step's calls.
    if step.calls:
        step.action = Action.CREATE if (sg is None and ep is None) else Action.REPAIR
        step.reason = "; ".join(ctx.gone + reasons)
    else:
        step.reason = f"security group {sg['GroupId']} and endpoint {ep['VpcEndpointId']} are as expected"
    return step


def teardown(row, state) -> list:
    if row.kind == "vpc_endpoint":
        own = next((r.id for r in state.resources if r.kind == "security_group"
                    and r.name == Names(state.name).security_group), None)
        return [Operation(Account.CONSUMER, name="ec2:delete_vpc_endpoint_and_wait",
                          params={"VpcEndpointId": row.id, "Member": state.name, "GroupId": own},
                          forget=(row.kind, row.id),
                          description=f"delete endpoint {row.id} (or, if other deployments share it, remove only "
                                      "this deployment's membership)")]
    return [Operation(Account.CONSUMER, name="ec2:delete_security_group_when_released",
                      params={"GroupId": row.id}, forget=(row.kind, row.id),
                      description=f"delete security group {row.id} (retrying while the endpoint's interfaces linger)")]


def discover(find) -> list[ResourceRow]:
    ec2 = find.client(Account.CONSUMER, "ec2")
    names, tag = find.names, {"Name": f"tag:{TAG_DEPLOYMENT}", "Values": [find.names.deployment]}
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [names.security_group]}, tag])
    rows = [ResourceRow(NUMBER, "security_group", sg["GroupId"], Account.CONSUMER.value, name=names.security_group)
            for sg in groups["SecurityGroups"]]
    joined = sorted(e for e in {tag_dict(g.get("Tags")).get(ENDPOINT_TAG, "") for g in groups["SecurityGroups"]}
                    if re.fullmatch(r"vpce-[0-9a-f]{8,17}", e))  # read from AWS: only a well-formed id is looked up
    legacy = {"Name": "tag-key", "Values": [LEGACY_MEMBER_TAG + names.deployment]}  # joined before member groups
    found = [ep for filters in ([tag], [legacy]) for ep in ec2.describe_vpc_endpoints(Filters=filters)["VpcEndpoints"]]
    found += [ep for ep in (describe(ec2, ep_id) for ep_id in joined) if ep]
    for ep_id in dict.fromkeys(ep["VpcEndpointId"] for ep in found
                               if str(ep.get("State", "")).lower() not in ("deleted", "deleting")):
        rows.append(ResourceRow(NUMBER, "vpc_endpoint", ep_id, Account.CONSUMER.value, name=names.endpoint))
    return rows


STEP = Step(NUMBER, "endpoint", "Security group and rds-data endpoint (consumer)", KINDS, inspect=inspect,
            desired=desired, plan=plan, teardown=teardown, provides=("security_group_id", "endpoint_id"),
            discover=discover,
            # The endpoint goes first (AWS releases its interfaces while the rest is deleted), its group late.
            teardown_rank={"vpc_endpoint": -1, "security_group": 1})
