"""Step 8 (consumer network): a read-only check that the endpoint subnets' NACLs pass HTTPS both ways.

xacct never edits NACLs (they are shared by everything in the subnet); it names the blocking rule and the fix.
"""
from __future__ import annotations

from xacct_dataapi.models import Account, Action, Inspection, Resource, Step, StepPlan
from xacct_dataapi.nacl import EPHEMERAL, HTTPS, evaluate

NUMBER = 8


def inspect(ctx, known) -> Inspection:
    ec2 = ctx.client(Account.CONSUMER, "ec2")
    acls = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": list(ctx.cfg.subnet_ids)}])["NetworkAcls"]
    by_subnet = {}
    for acl in acls:
        for assoc in acl.get("Associations", []):
            if assoc.get("SubnetId") in ctx.cfg.subnet_ids:
                by_subnet[assoc["SubnetId"]] = acl
    return Inspection({"acls": by_subnet})


def desired(ctx) -> list[Resource]:
    return []  # a check: it wants no resource of its own, and xacct never edits shared NACLs


def problems_for(acls: dict, subnet_ids, vpc_cidr: str) -> list[str]:
    out = []
    for sid in subnet_ids:
        acl = acls.get(sid)
        if acl is None:
            continue  # every subnet has a NACL in AWS; nothing to judge if none was returned
        acl_id = acl["NetworkAclId"]
        checks = (
            (False, HTTPS, "inbound tcp 443 from", "--ingress --rule-action allow --protocol tcp --port-range From=443,To=443"),
            (True, EPHEMERAL, f"outbound tcp {EPHEMERAL[0]}-{EPHEMERAL[1]} (return traffic) to",
             f"--egress --rule-action allow --protocol tcp --port-range From={EPHEMERAL[0]},To={EPHEMERAL[1]}"),
        )
        for egress, ports, what, flags in checks:
            v = evaluate(acl.get("Entries", []), egress=egress, ports=ports, peer_cidr=vpc_cidr)
            if not v.allowed:
                where = f"rule {v.rule_number} denies it" if v.rule_number is not None else v.reason
                out.append(
                    f"{acl_id} (subnet {sid}) blocks {what} {vpc_cidr}: {where}. Fix: add a lower-numbered allow rule, e.g. "
                    f"`aws ec2 create-network-acl-entry --network-acl-id {acl_id} --rule-number N {flags} --cidr-block {vpc_cidr}` "
                    f"with N below {v.rule_number or 32767}."
                )
    return out


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    if ctx.gone:
        return StepPlan(NUMBER, STEP.key, STEP.title, Action.CHECK, "the subnets cannot be checked",
                        problems=list(ctx.gone))
    problems = [p for cidr in ctx.client_cidrs for p in problems_for(facts["acls"], ctx.cfg.subnet_ids, cidr)]
    if problems:
        return StepPlan(NUMBER, STEP.key, STEP.title, Action.CHECK, "a network ACL blocks HTTPS", problems=problems)
    n = len(set(a["NetworkAclId"] for a in facts["acls"].values()))
    return StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP,
                    f"{n} network ACL(s) pass tcp/443 in and ephemeral ports out for {', '.join(ctx.client_cidrs)}")


def teardown(row, state) -> list:
    return []  # records nothing


STEP = Step(NUMBER, "nacl_check", "Network ACLs pass HTTPS (check)", (), inspect=inspect, desired=desired, plan=plan,
            teardown=teardown)
