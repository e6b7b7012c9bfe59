"""Step 8 (consumer network): a read-only check that the endpoint subnets' NACLs pass HTTPS both ways.

The endpoint's subnets are where its interfaces are: for an endpoint this deployment joined, the subnets its maker
chose (read from AWS by step 7), not this deployment's --subnets.

xacct never edits NACLs (they are shared by everything in the subnet); it names the blocking rule and the fix.
"""
from __future__ import annotations

import ipaddress

from xacct_dataapi.models import Account, Action, Inspection, Resource, Step, StepPlan
from xacct_dataapi.nacl import EPHEMERAL, HTTPS, evaluate

NUMBER = 8


def inspect(ctx, known) -> Inspection:
    """Every NACL of the VPC with the subnets it serves, and the subnets' CIDRs: the endpoint's subnets and the
    clients' own subnets are both judged (two reads, however many subnets)."""
    ec2 = ctx.client(Account.CONSUMER, "ec2")
    vpc = [{"Name": "vpc-id", "Values": [ctx.cfg.vpc_id]}]
    acls = ec2.describe_network_acls(Filters=vpc)["NetworkAcls"]
    subnets = ec2.describe_subnets(Filters=vpc)["Subnets"]
    by_subnet = {a["SubnetId"]: acl for acl in acls for a in acl.get("Associations", []) if a.get("SubnetId")}
    return Inspection({"acls": by_subnet, "subnet_cidrs": {s["SubnetId"]: s["CidrBlock"] for s in subnets}})


def desired(ctx) -> list[Resource]:
    return []  # a check: it wants no resource of its own, and xacct never edits shared NACLs


def _blocked(acl_id: str, sid: str, what: str, peer: str, verdict, flags: str) -> str:
    where = f"rule {verdict.rule_number} denies it" if verdict.rule_number is not None else verdict.reason
    return (f"{acl_id} (subnet {sid}) blocks {what} {peer}: {where}. Fix: add a lower-numbered allow rule, e.g. "
            f"`aws ec2 create-network-acl-entry --network-acl-id {acl_id} --rule-number N {flags} --cidr-block {peer}` "
            f"with N below {verdict.rule_number or 32767}.")


RETURN_PORTS = f"tcp {EPHEMERAL[0]}-{EPHEMERAL[1]} (return traffic)"
EPHEMERAL_FLAGS = f"--protocol tcp --port-range From={EPHEMERAL[0]},To={EPHEMERAL[1]}"
HTTPS_FLAGS = "--protocol tcp --port-range From=443,To=443"


def problems_for(acls: dict, subnet_ids, vpc_cidr: str) -> list[str]:
    """The endpoint's side: tcp/443 in from the clients, the return traffic out to them."""
    out = []
    for sid in subnet_ids:
        acl = acls.get(sid)
        if acl is None:
            continue  # every subnet has a NACL in AWS; nothing to judge if none was returned
        for egress, ports, what, flags in (
                (False, HTTPS, "inbound tcp 443 from", f"--ingress --rule-action allow {HTTPS_FLAGS}"),
                (True, EPHEMERAL, f"outbound {RETURN_PORTS} to", f"--egress --rule-action allow {EPHEMERAL_FLAGS}")):
            v = evaluate(acl.get("Entries", []), egress=egress, ports=ports, peer_cidr=vpc_cidr)
            if not v.allowed:
                out.append(_blocked(acl["NetworkAclId"], sid, what, vpc_cidr, v, flags))
    return out


def client_problems(acls: dict, subnet_cidrs: dict[str, str], endpoint_subnets, client_cidrs) -> list[str]:
    """The clients' side: a client subnet's NACL must let tcp/443 out to the endpoint's subnets and the return traffic
    in from them. Client subnets are the VPC's subnets inside the client CIDRs, other than the endpoint's own (traffic
    that stays inside one subnet meets no NACL)."""
    def inside(cidr: str) -> bool:
        return any(ipaddress.ip_network(cidr).overlaps(ipaddress.ip_network(c, strict=False)) for c in client_cidrs)

    out = []
    for sid in sorted(s for s, cidr in subnet_cidrs.items() if s not in endpoint_subnets and inside(cidr)):
        acl = acls.get(sid)
        for peer in sorted({subnet_cidrs[e] for e in endpoint_subnets if e in subnet_cidrs}):
            for egress, ports, what, flags in (
                    (True, HTTPS, "outbound tcp 443 to the endpoint's subnet", f"--egress --rule-action allow {HTTPS_FLAGS}"),
                    (False, EPHEMERAL, f"inbound {RETURN_PORTS} from the endpoint's subnet",
                     f"--ingress --rule-action allow {EPHEMERAL_FLAGS}")):
                v = evaluate((acl or {}).get("Entries", []), egress=egress, ports=ports, peer_cidr=peer) if acl else None
                if v is not None and not v.allowed:
                    out.append(_blocked(acl["NetworkAclId"], sid, what, peer, v, flags))
    return out


def endpoint_subnets(ctx) -> list[str]:
    """The subnets the endpoint's interfaces are in: a joined endpoint's as AWS lists them (step 7's inspection; its
    maker chose them, and this deployment's --subnets do not move it), else the --subnets its setup places it in."""
    joined = ctx.values.get("joined_endpoint_subnet_ids")
    return list(ctx.cfg.subnet_ids) if joined is None else list(joined)


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    if ctx.gone:
        return StepPlan(NUMBER, STEP.key, STEP.title, Action.CHECK, "the subnets cannot be checked",
                        problems=list(ctx.gone))
    where = endpoint_subnets(ctx)
    problems = [p for cidr in ctx.client_cidrs for p in problems_for(facts["acls"], where, cidr)]
    problems += client_problems(facts["acls"], facts.get("subnet_cidrs", {}), where, ctx.client_cidrs)
    if problems:
        return StepPlan(NUMBER, STEP.key, STEP.title, Action.CHECK, "a network ACL blocks HTTPS", problems=problems)
    n = len({facts["acls"][s]["NetworkAclId"] for s in where if s in facts["acls"]})
    shared = "" if set(where) == set(ctx.cfg.subnet_ids) else f" (the endpoint's subnets: {', '.join(where)})"
    return StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP,
                    f"{n} network ACL(s) pass tcp/443 and its return traffic ({EPHEMERAL[0]}-{EPHEMERAL[1]}) both ways "
                    f"for {', '.join(ctx.client_cidrs)}{shared}")


STEP = Step(NUMBER, "nacl_check", "Network ACLs pass HTTPS (check)", (), inspect=inspect, desired=desired, plan=plan)
