"""Step 7 (consumer): a security group allowing HTTPS from the VPC, and the rds-data interface endpoint.

CreateVpcEndpoint has no name, so the endpoint is found by its xacct:deployment tag (set atomically at
creation through TagSpecifications). Only one endpoint per VPC can hold rds-data's private DNS name, and one
interface endpoint serves every cluster of the region: a deployment whose VPC already has an xacct endpoint
joins it. Each member deployment is an `xacct:member:<name>` tag on the endpoint ("<access role ARN> <cluster
ARN>") and one statement of its policy; a member's teardown removes only its own tag and statement, and the
last member deletes the endpoint and its security group. An endpoint xacct did not make is never adopted.
"""
from __future__ import annotations

import json

from xacct_dataapi import policies
from xacct_dataapi.config import TAG_DEPLOYMENT, TAG_MANAGED
from botocore.exceptions import ClientError

from xacct_dataapi.errors import UsageError, error_code
from xacct_dataapi.models import (
    NOTHING_CHANGED, Account, Action, Bookkeeping, Call, Inspection, JsonDoc, Operation, Record, Ref, Resource, Step, StepPlan, Wait,
    WaitFor,
)
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.state import ResourceRow
from xacct_dataapi.steps.common import access_role_arn, iam_tags, not_ours, owned, tag_dict

NUMBER = 7
KINDS = ("security_group", "vpc_endpoint")

MEMBER_TAG = "xacct:member:"  # + a deployment's name; the value: "<its access role ARN> <its cluster ARN>"
PENDING_STATES = ("pending", "pendingacceptance", "modifying")
LIVE_STATES = ("pendingacceptance", "pending", "available", "modifying", "failed", "rejected")


def service_name(region: str) -> str:
    return f"com.amazonaws.{region}.rds-data"


def https_rule(cidrs, description: str) -> dict:
    cidrs = [cidrs] if isinstance(cidrs, str) else list(cidrs)
    return {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "IpRanges": [{"CidrIp": c, "Description": description} for c in cidrs]}


def _rules(perms: list[dict]) -> set[tuple]:
    out = set()
    for p in perms or []:
        for r in p.get("IpRanges", []):
            out.add((p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), r.get("CidrIp")))
        for r in p.get("Ipv6Ranges", []):
            out.add((p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), r.get("CidrIpv6")))
        for g in p.get("UserIdGroupPairs", []):
            out.add((p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), g.get("GroupId")))
        for pl in p.get("PrefixListIds", []):
            out.add((p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), pl.get("PrefixListId")))
    return out


def _describe_rule(rule: tuple) -> str:
    proto, lo, hi, target = rule
    proto = {"-1": "all traffic", "6": "tcp", "17": "udp"}.get(str(proto), str(proto))
    ports = "" if lo is None or proto == "all traffic" else (f" {lo}" if lo == hi else f" {lo}-{hi}")
    return f"{proto}{ports} {target}"


def _perm(rule: tuple) -> dict:
    proto, lo, hi, target = rule
    perm = {"IpProtocol": proto}
    if lo is not None:
        perm["FromPort"], perm["ToPort"] = lo, hi
    if str(target).startswith("sg-"):
        perm["UserIdGroupPairs"] = [{"GroupId": target}]
    elif str(target).startswith("pl-"):
        perm["PrefixListIds"] = [{"PrefixListId": target}]
    elif ":" in str(target):
        perm["Ipv6Ranges"] = [{"CidrIpv6": target}]
    else:
        perm["IpRanges"] = [{"CidrIp": target}]
    return perm


def member_tag(ctx) -> dict:
    return {"Key": MEMBER_TAG + ctx.names.deployment, "Value": f"{access_role_arn(ctx)} {ctx.cluster.arn}"}


def members_of(ep: dict) -> dict[str, tuple[str, str]]:
    """The deployments an endpoint serves, from its member tags. An endpoint made before member tags existed has
    none: its creator (the xacct:deployment tag) is a member with the grant its policy holds."""
    tags = tag_dict(ep.get("Tags"))
    found = {k[len(MEMBER_TAG):]: tuple(v.split(" ", 1)) for k, v in tags.items()
             if k.startswith(MEMBER_TAG) and " " in v}
    creator = tags.get(TAG_DEPLOYMENT)
    if not found and creator:
        for statement in policies.parse(ep.get("PolicyDocument") or "{}").get("Statement", []):
            role = statement.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn")
            if isinstance(role, str) and isinstance(statement.get("Resource"), str):
                found[creator] = (role, statement["Resource"])
                break
    return found


def inspect(ctx, known) -> Inspection:
    ec2 = ctx.client(Account.CONSUMER, "ec2")
    sgs_r, endpoints_r = gather(  # both at once: one round trip
        lambda: ec2.describe_security_groups(Filters=[
            {"Name": "vpc-id", "Values": [ctx.cfg.vpc_id]},
            {"Name": "group-name", "Values": [ctx.names.security_group]},
        ])["SecurityGroups"],
        lambda: ec2.describe_vpc_endpoints(Filters=[
            {"Name": "vpc-id", "Values": [ctx.cfg.vpc_id]},
            {"Name": "service-name", "Values": [service_name(ctx.region)]},
        ])["VpcEndpoints"])
    sgs, endpoints = unwrap(sgs_r), unwrap(endpoints_r)
    sg = sgs[0] if sgs else None
    sg_id = sg["GroupId"] if sg and owned(tag_dict(sg.get("Tags")), ctx.names.deployment) else None
    live = [e for e in endpoints if str(e.get("State", "")).lower() in LIVE_STATES]
    ours = [e for e in live if owned(tag_dict(e.get("Tags")), ctx.names.deployment)]
    xacct_made = [e for e in live if e not in ours and e.get("PrivateDnsEnabled")
                  and tag_dict(e.get("Tags")).get(TAG_MANAGED) == "xacct"]
    others = [e for e in live if e not in ours and e not in xacct_made and e.get("PrivateDnsEnabled")]
    ep = sorted(ours or xacct_made, key=lambda e: e["VpcEndpointId"])[0] if (ours or xacct_made) else None
    joined = ep is not None and not ours
    if joined and ep.get("Groups"):
        # Joining another deployment's endpoint: its security group is the one that counts (and is shared too).
        sg = ec2.describe_security_groups(GroupIds=[ep["Groups"][0]["GroupId"]])["SecurityGroups"][0]
        sg_id = sg["GroupId"]
    members = {k: list(v) for k, v in members_of(ep).items() if k != ctx.names.deployment} if ep else {}
    return Inspection({"sg": sg, "endpoint": ep, "joined": joined, "conflicts": others},
                      {"security_group_id": sg_id, "endpoint_id": ep and ep["VpcEndpointId"],
                       "endpoint_members": members or None})


def endpoint_policy(ctx) -> dict:
    """This deployment's grant plus every other member's (the endpoint is shared by every deployment in the VPC)."""
    if ctx.cfg.endpoint_policy == "full":
        return policies.endpoint_full_access_policy()
    others = [tuple(pair) for pair in (ctx.values.get("endpoint_members") or {}).values()]
    return policies.endpoint_policy_for_members([(access_role_arn(ctx), ctx.cluster.arn), *others])


def desired(ctx) -> list[Resource]:
    names, cidr, vpc = ctx.names, ctx.client_cidrs, ctx.cfg.vpc_id
    return [
        Resource("security_group", ctx.known("security_group_id"), Account.CONSUMER,
                 tags={**names.tags(), "Name": names.security_group},
                 properties={"GroupName": names.security_group, "VpcId": vpc,
                             "Description": f"xacct {names.deployment}: HTTPS to the rds-data endpoint",
                             "Ingress": [https_rule(cidr, f"HTTPS to the rds-data endpoint from {vpc}'s clients")],
                             # The endpoint only ever answers: egress is HTTPS to the clients, not AWS's allow-all.
                             "Egress": [https_rule(cidr, "HTTPS to the clients only")]}),
        Resource("vpc_endpoint", ctx.known("endpoint_id"), Account.CONSUMER,
                 tags={**names.tags(), "Name": names.endpoint, member_tag(ctx)["Key"]: member_tag(ctx)["Value"]},
                 properties={"VpcEndpointType": "Interface", "VpcId": vpc, "ServiceName": service_name(ctx.region),
                             "SubnetIds": list(ctx.cfg.subnet_ids), "PrivateDnsEnabled": True,
                             # "full" sends no policy at all: AWS then applies its default, which works for every service.
                             "PolicyMode": ctx.cfg.endpoint_policy},
                 documents={"endpoint_policy": endpoint_policy(ctx)}),
    ]


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    want_sg, want_ep = desired
    names, cidr = ctx.names, ", ".join(ctx.client_cidrs)
    doc = want_ep.documents["endpoint_policy"]
    full_access = want_ep.properties["PolicyMode"] == "full"
    step = StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP, "")
    if facts.get("joined"):
        return _plan_joined(ctx, facts, want_ep, step)
    reasons: list[str] = []
    sg = facts["sg"]
    (ingress,), (egress,) = want_sg.properties["Ingress"], want_sg.properties["Egress"]
    want_in, want_out = _rules([ingress]), _rules([egress])
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
        have_in, have_out = _rules(sg.get("IpPermissions")), _rules(sg.get("IpPermissionsEgress"))
        for rules, want, direction in ((have_in, want_in, "ingress"), (have_out, want_out, "egress")):
            if want - rules:
                reasons.append(f"{direction} tcp/443 {cidr} rule is missing")
                step.problems.append(f"security group {sg_id}: {direction} rule tcp/443 {cidr} missing")
                step.calls.append(Call(Account.CONSUMER, "ec2", f"authorize_security_group_{direction}",
                                       {"GroupId": sg_id, "IpPermissions": [ingress if direction == "ingress" else egress]},
                                       ok_codes=("InvalidPermission.Duplicate",), description=f"restore the {direction} rule"))
            extra = rules - want
            if extra:
                reasons.append(f"{len(extra)} unexpected {direction} rule(s)")
                step.problems.append(f"security group {sg_id}: unexpected {direction} rule(s) "
                                     + ", ".join(_describe_rule(r) for r in sorted(extra, key=str)))
                step.calls.append(Call(Account.CONSUMER, "ec2", f"revoke_security_group_{direction}",
                                       {"GroupId": sg_id, "IpPermissions": [_perm(r) for r in sorted(extra, key=str)]},
                                       ok_codes=("InvalidPermission.NotFound",), description=f"remove unexpected {direction} rules"))
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
        step.calls.append(Call(
            Account.CONSUMER, "ec2", "create_vpc_endpoint",
            {**props, "SecurityGroupIds": [sg_id], **({} if full_access else {"PolicyDocument": JsonDoc(doc)}),
             "TagSpecifications": [{"ResourceType": "vpc-endpoint", "Tags": iam_tags(want_ep.tags)}]},
            outputs={"endpoint_id": "VpcEndpoint.VpcEndpointId"},
            record=Record("vpc_endpoint", Ref("endpoint_id"), name=names.endpoint),
            wait=_available(Ref("endpoint_id"), deferred=True), description="create the interface endpoint"))
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
        if not (policies.is_full_access(ep.get("PolicyDocument")) if full_access
                else policies.equal(ep.get("PolicyDocument") or "{}", doc)):
            if full_access:
                modify["ResetPolicy"] = True
            else:
                modify["PolicyDocument"] = JsonDoc(doc)
        if tag_dict(ep.get("Tags")).get(member_tag(ctx)["Key"]) != member_tag(ctx)["Value"]:
            reasons.append(f"endpoint {ep_id} does not carry this deployment's member tag")
            step.calls.append(Call(Account.CONSUMER, "ec2", "create_tags", {"Resources": [ep_id], "Tags": [member_tag(ctx)]},
                                   description="tag the endpoint with this deployment's membership"))
        if modify:
            reasons.append("endpoint differs: " + ", ".join(k for k in modify))
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
    # A recorded group or endpoint that is not the one kept here (another VPC, or deleted by hand) is not forgotten
    # here: the planner replaces it (its teardown, which looks it up by its own id) after this step's calls.
    if step.calls:
        step.action = Action.CREATE if (sg is None and ep is None) else Action.REPAIR
        step.reason = "; ".join(ctx.gone + reasons)
    else:
        step.reason = f"security group {sg['GroupId']} and endpoint {ep['VpcEndpointId']} are as expected"
    return step


def _endpoint_state(resp: dict) -> str:
    eps = resp.get("VpcEndpoints", [])
    return str(eps[0].get("State", "")).lower() if eps else "deleted"


def _available(endpoint_id, deferred: bool = False) -> Wait:
    # An endpoint that lands in `failed` or `rejected` stops the wait at once (waiting cannot help).
    return Wait("ec2", "describe_vpc_endpoints", {"VpcEndpointIds": [endpoint_id]}, state=_endpoint_state,
                pending=PENDING_STATES, target=("available",),
                what="the rds-data endpoint to become available", account=Account.CONSUMER, deferred=deferred)


def _endpoint_by_id(ec2, endpoint_id: str) -> dict | None:
    """The endpoint as AWS describes it now, or None once it is gone (NotFound, or `deleted`)."""
    try:
        found = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    except ClientError as exc:
        if "NotFound" in error_code(exc):
            return None
        raise
    return found[0] if found and _endpoint_state({"VpcEndpoints": found}) != "deleted" else None


def delete_endpoint(ops, VpcEndpointId: str, found: dict | None = None) -> dict:
    """Delete, then wait until AWS reports it gone. Its network interfaces take longer; the security group's
    deletion (planned last) waits for those. `found`: the endpoint as the caller just described it."""
    ec2 = ops.client("ec2")
    if (found or _endpoint_by_id(ec2, VpcEndpointId)) is None:
        return {NOTHING_CHANGED: "already gone"}
    result = ops.call("ec2", "delete_vpc_endpoints", VpcEndpointIds=[VpcEndpointId])
    for failure in result.get("Unsuccessful", []):
        err = failure.get("Error", {})
        if "NotFound" not in str(err.get("Code", "")):
            raise ClientError({"Error": {"Code": err.get("Code", "Unsuccessful"), "Message": err.get("Message", "")}},
                              "DeleteVpcEndpoints")
    ops.wait_until(f"endpoint {VpcEndpointId} to be deleted", lambda: _endpoint_by_id(ec2, VpcEndpointId) is None)
    return {}


def delete_security_group(ops, GroupId: str) -> dict:
    """The endpoint's network interfaces hold the group for minutes after the endpoint is deleted: wait for them
    to go, then delete, retrying while AWS still answers DependencyViolation."""
    ec2 = ops.client("ec2")

    def interfaces_gone() -> bool:
        left = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [GroupId]}])
        return not left.get("NetworkInterfaces")

    outcome: dict = {}

    def deleted() -> bool:
        try:
            ops.call("ec2", "delete_security_group", GroupId=GroupId)
        except ClientError as exc:
            if error_code(exc) == "InvalidGroup.NotFound":
                outcome[NOTHING_CHANGED] = "already gone"
                return True
            if error_code(exc) == "DependencyViolation":
                return False
            raise
        return True

    endpoints = (e for page in ec2.get_paginator("describe_vpc_endpoints").paginate() for e in page["VpcEndpoints"])
    users = [e["VpcEndpointId"] for e in endpoints
             if str(e.get("State", "")).lower() not in ("deleted", "deleting")
             and GroupId in {g["GroupId"] for g in e.get("Groups", [])}]
    if users:  # a shared endpoint kept for other deployments still uses it
        return {NOTHING_CHANGED: f"kept: used by endpoint {', '.join(users)}"}
    ops.wait_until(f"the network interfaces using security group {GroupId} to disappear", interfaces_gone)
    ops.wait_until(f"security group {GroupId} to be released by the endpoint's network interfaces "
                   "(DependencyViolation)", deleted)
    return outcome


def teardown(row, state) -> list:
    if row.kind == "vpc_endpoint":
        return [Operation(Account.CONSUMER, name="ec2:delete_vpc_endpoint_and_wait", run=leave_or_delete_endpoint,
                          params={"VpcEndpointId": row.id, "Member": state.name}, forget=(row.kind, row.id),
                          description=f"delete endpoint {row.id} (or, if other deployments share it, remove only "
                                      "this deployment's grant)")]
    return [Operation(Account.CONSUMER, name="ec2:delete_security_group_when_released", run=delete_security_group,
                      params={"GroupId": row.id}, forget=(row.kind, row.id),
                      description=f"delete security group {row.id} (retrying while the endpoint's interfaces linger)")]


def discover(find) -> list[ResourceRow]:
    ec2 = find.client(Account.CONSUMER, "ec2")
    names, tag = find.names, {"Name": f"tag:{TAG_DEPLOYMENT}", "Values": [find.names.deployment]}
    rows = [ResourceRow(NUMBER, "security_group", sg["GroupId"], Account.CONSUMER.value, name=names.security_group)
            for sg in ec2.describe_security_groups(
                Filters=[{"Name": "group-name", "Values": [names.security_group]}, tag])["SecurityGroups"]]
    member = {"Name": "tag-key", "Values": [MEMBER_TAG + names.deployment]}  # a shared endpoint it joined
    seen = set()
    for filters in ([tag], [member]):
        for ep in ec2.describe_vpc_endpoints(Filters=filters)["VpcEndpoints"]:
            if str(ep.get("State", "")).lower() not in ("deleted", "deleting") and ep["VpcEndpointId"] not in seen:
                seen.add(ep["VpcEndpointId"])
                rows.append(ResourceRow(NUMBER, "vpc_endpoint", ep["VpcEndpointId"], Account.CONSUMER.value,
                                        name=names.endpoint))
    return rows


STEP = Step(NUMBER, "endpoint", "Security group and rds-data endpoint (consumer)", KINDS, inspect=inspect,
            desired=desired, plan=plan, teardown=teardown, provides=("security_group_id", "endpoint_id"),
            discover=discover,
            # The endpoint goes first (AWS releases its interfaces while the rest is deleted), its group late.
            teardown_rank={"vpc_endpoint": -1, "security_group": 1})


def _plan_joined(ctx, facts: dict, want_ep: Resource, step: StepPlan) -> StepPlan:
    """Join another xacct deployment's endpoint in this VPC: record it (and its security group) as shared, add this
    deployment's member tag and its statement to the policy. Subnets, private DNS and the group's rules stay the
    business of the deployment that made it."""
    ep, sg = facts["endpoint"], facts["sg"]
    ep_id, owner = ep["VpcEndpointId"], tag_dict(ep.get("Tags")).get(TAG_DEPLOYMENT)
    reasons = [f"joins endpoint {ep_id} of xacct deployment {owner!r} (one rds-data endpoint serves every cluster "
               "of the region; each member's policy statement admits only its own role and cluster)"]
    for kind, rid, name in (("vpc_endpoint", ep_id, None), ("security_group", sg and sg["GroupId"], sg and sg.get("GroupName"))):
        if rid and not ctx.state.find(kind, rid):
            step.calls.append(Bookkeeping(Account.CONSUMER, record=Record(kind, rid, name=name),
                                          description=f"record shared {kind.replace('_', ' ')} {rid}"))
    if tag_dict(ep.get("Tags")).get(member_tag(ctx)["Key"]) != member_tag(ctx)["Value"]:
        step.calls.append(Call(Account.CONSUMER, "ec2", "create_tags", {"Resources": [ep_id], "Tags": [member_tag(ctx)]},
                               description="tag the endpoint with this deployment's membership"))
    doc = want_ep.documents["endpoint_policy"]
    if policies.is_full_access(ep.get("PolicyDocument")):
        reasons.append("its policy is AWS's full-access default, which admits this deployment's role already")
    elif want_ep.properties["PolicyMode"] == "full":
        raise UsageError(f"--endpoint-policy full: endpoint {ep_id} in {ctx.cfg.vpc_id} is shared with deployment "
                         f"{owner!r}, whose restricted policy admits only its members.",
                         "Join it with the default --endpoint-policy restricted (this deployment's statement is added).")
    elif not policies.equal(ep.get("PolicyDocument") or "{}", doc):
        reasons.append("its policy gains this deployment's statement")
        step.calls.append(Call(Account.CONSUMER, "ec2", "modify_vpc_endpoint",
                               {"VpcEndpointId": ep_id, "PolicyDocument": JsonDoc(doc)},
                               description="admit this deployment's access role on its cluster"))
    if str(ep.get("State", "")).lower() != "available":
        step.calls.append(WaitFor(Account.CONSUMER, wait=_available(ep_id),
                                  description=f"wait for endpoint {ep_id} to become available"))
    if step.calls:
        step.action = Action.CREATE if not ctx.state.find("vpc_endpoint", ep_id) else Action.REPAIR
        step.reason = "; ".join(reasons)
    else:
        step.reason = f"member of endpoint {ep_id} (made by deployment {owner!r}), admitted by its policy"
    return step


def leave_or_delete_endpoint(ops, VpcEndpointId: str, Member: str) -> dict:
    """The last member deletes the endpoint; any other removes only its member tag and its policy statement."""
    found = _endpoint_by_id(ops.client("ec2"), VpcEndpointId)
    live = found if found is not None and str(found.get("State", "")).lower() != "deleting" else None
    others = {k: v for k, v in members_of(live).items() if k != Member} if live else {}
    if not others:
        return delete_endpoint(ops, VpcEndpointId, found) if found is not None else {NOTHING_CHANGED: "already gone"}
    ops.call("ec2", "delete_tags", Resources=[VpcEndpointId], Tags=[{"Key": MEMBER_TAG + Member}])
    if not policies.is_full_access(live.get("PolicyDocument")):
        ops.call("ec2", "modify_vpc_endpoint", VpcEndpointId=VpcEndpointId,
                 PolicyDocument=json.dumps(policies.endpoint_policy_for_members(list(others.values()))))
    ops.note(f"Kept endpoint {VpcEndpointId}: deployment(s) {', '.join(sorted(others))} use it; removed only "
             f"{Member}'s member tag and policy statement.")
    return {NOTHING_CHANGED: "kept: shared with " + ", ".join(sorted(others))}
