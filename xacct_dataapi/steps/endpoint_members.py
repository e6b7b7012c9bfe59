"""The shared rds-data endpoint's membership, coordinated through AWS alone (operators may be on different machines;
docs/reliability.md, "The shared endpoint", gives the interleavings and why each converges; docs/how-it-works.md,
"Many deployments in one VPC", why the sizes stay flat).

- Each member deployment keeps its own security group (`xacct-<name>-rds-data-endpoint`); its tags are the member's
  facts: `xacct:endpoint` (the endpoint it belongs to), `xacct:cluster` (its cluster ARN) and `xacct:client-cidrs`.
  The endpoint's own group is its creator's; the other members' groups are attached to nothing and grant nothing.
  Each member writes only its own group's tags, so members never overwrite each other's facts, and the endpoint
  carries no tag per member (EC2 allows 50 tags per resource): one paged DescribeSecurityGroups lists them all.
- The endpoint policy and its group's HTTPS rules are derived from the members: one statement per cluster in use
  (admitting the access roles under that cluster's IAM path), one rule per client CIDR some member asked for.
  Whoever changes a membership rewrites both, reads back and repeats until what it reads agrees with the members
  read with it. The last write is always followed by its writer's read, so the endpoint ends as its members say.
- A member that leaves marks `xacct:closing:<name>` on the endpoint, then removes its facts, then reads: if any
  member is left it removes its mark and keeps the endpoint; if none, it deletes the endpoint. A joiner whose facts
  were written before that read keeps the endpoint alive; one whose facts came later sees the mark on every read
  until the deletion, and never confirms its membership on an endpoint about to go.
- A run confirms its own membership (its facts, no closing mark, the policy and rules admitting it) before it ends
  well; otherwise it fails (exit 1) and a re-run converges.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from xacct_dataapi import policies
from xacct_dataapi.config import CLUSTER_ARN_RE, NAME_RE, TAG_DEPLOYMENT, TAG_MANAGED, Names
from xacct_dataapi.errors import WaitTimeout, XacctError, error_code
from xacct_dataapi.procedures import procedure
from xacct_dataapi.steps.common import tag_dict
from xacct_dataapi.steps.endpoint_rules import https_rule, permission_of, rules_of

ENDPOINT_TAG = "xacct:endpoint"  # on a member's own group: the id of the endpoint it is a member of
CLUSTER_TAG = "xacct:cluster"  # its cluster ARN (the access roles it needs admitted follow from it)
CIDRS_TAG = "xacct:client-cidrs"  # the client CIDRs it asked for, comma-separated
FACT_TAGS = (ENDPOINT_TAG, CLUSTER_TAG, CIDRS_TAG)
LEGACY_MEMBER_TAG = "xacct:member:"  # + a name, on the endpoint: how members were written before (still read)
CLOSING_TAG = "xacct:closing:"  # + the name of a member deleting the endpoint because it saw no other member
# AWS limits (docs/aws-facts.md): a VPC endpoint policy is at most 20,480 characters including white space; an EC2
# tag value at most 256 characters; a security group at most 60 inbound (and 60 outbound) rules by default.
POLICY_MAX = 20_480
TAG_VALUE_MAX = 256
RULES_MAX = 60
CONVERGE_ROUNDS = 25
RULE_NOTE = "HTTPS between the rds-data endpoint and a member's clients"
# What joining or leaving calls (read, write one's facts and the closing mark, converge): the procedures that change
# a membership declare these (procedures.py), with their own calls added.
MEMBERSHIP_ACTIONS = ("ec2:DescribeVpcEndpoints", "ec2:DescribeSecurityGroups", "ec2:CreateTags", "ec2:DeleteTags",
                      "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
                      "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:ModifyVpcEndpoint")


class MembershipNotInEffect(XacctError):
    """The run ends with this deployment's membership of the shared endpoint not in effect (exit 1)."""


@dataclass(frozen=True)
class MemberFacts:
    cluster_arn: str
    cidrs: tuple[str, ...] | None = None  # None: a legacy member whose CIDRs are not known
    group_id: str | None = None


def facts_tags(endpoint_id: str, cluster_arn: str, cidrs) -> list[dict]:
    value = ",".join(cidrs)
    if len(value) > TAG_VALUE_MAX:
        raise XacctError(f"The client CIDRs {value} are longer together than an EC2 tag value may be ({TAG_VALUE_MAX}).",
                         "Pass fewer --client-cidr values (a wider network covers several).")
    return [{"Key": ENDPOINT_TAG, "Value": endpoint_id}, {"Key": CLUSTER_TAG, "Value": cluster_arn},
            {"Key": CIDRS_TAG, "Value": value}]


def _cidrs(value: str) -> tuple[str, ...]:
    """A group's CIDRs tag, read from AWS: untrusted, so only valid IPv4 networks other than 0.0.0.0/0 count."""
    out = []
    for c in (value or "").split(","):
        try:
            if ipaddress.IPv4Network(c, strict=True).prefixlen > 0:
                out.append(c)
        except ValueError:
            continue
    return tuple(out)


def member_of_group(group: dict) -> tuple[str, MemberFacts] | None:
    """(name, facts) from one security group, or None unless it is a member group as xacct makes them."""
    tags = tag_dict(group.get("Tags"))
    name, cluster = tags.get(TAG_DEPLOYMENT, ""), tags.get(CLUSTER_TAG, "")
    if (tags.get(TAG_MANAGED) != "xacct" or not NAME_RE.match(name) or group.get("GroupName") != Names(name).security_group
            or not CLUSTER_ARN_RE.match(cluster)):
        return None
    return name, MemberFacts(cluster, _cidrs(tags.get(CIDRS_TAG, "")), group["GroupId"])


def member_groups_filter(vpc_id: str) -> list[dict]:
    return [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "tag-key", "Values": [ENDPOINT_TAG]}]


def members_from(ep: dict | None, groups: list[dict]) -> dict[str, MemberFacts]:
    """The deployments an endpoint serves: the groups whose xacct:endpoint names it, plus legacy member tags."""
    if not ep:
        return {}
    found: dict[str, MemberFacts] = {}
    for key, value in tag_dict(ep.get("Tags")).items():
        cluster = value.split(" ")[-1] if value else ""
        if key.startswith(LEGACY_MEMBER_TAG) and CLUSTER_ARN_RE.match(cluster):
            found[key[len(LEGACY_MEMBER_TAG):]] = MemberFacts(cluster)
    for group in groups:
        member = member_of_group(group)
        if member and tag_dict(group.get("Tags")).get(ENDPOINT_TAG) == ep["VpcEndpointId"]:
            found[member[0]] = member[1]
    return found


def list_member_groups(ec2, vpc_id: str) -> list[dict]:
    """Every member group in the VPC: one paged listing (1,000 a page), however many deployments there are."""
    found, token = [], None
    while True:
        page = ec2.describe_security_groups(Filters=member_groups_filter(vpc_id), MaxResults=1000,
                                            **({"NextToken": token} if token else {}))
        found += page.get("SecurityGroups", [])
        token = page.get("NextToken")
        if not token:
            return found


def access_roles_on(cluster_arn: str) -> str:
    """The aws:PrincipalArn pattern of every xacct access role on one cluster: they all sit under its IAM path
    (config.Names.access_role_path) and are all named xacct-<name>-data-api-access."""
    parts = cluster_arn.split(":")  # arn:PARTITION:rds:REGION:ACCOUNT:cluster:ID
    partition, region, account, cluster_id = parts[1], parts[3], parts[4], parts[6]
    return policies.role_arn(account, Names("*").access_role, partition, Names.access_role_path(cluster_id, region))


def policy_for(members: dict[str, MemberFacts]) -> dict:
    clusters = sorted({m.cluster_arn for m in members.values()})
    return policies.endpoint_policy_for_clusters([(access_roles_on(c), c) for c in clusters])


def policy_text(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))


def cidrs_wanted(members: dict[str, MemberFacts]) -> set[str] | None:
    """The CIDRs the endpoint's group must admit: every member's; None while a legacy member's are unknown."""
    if any(m.cidrs is None for m in members.values()):
        return None
    return {c for m in members.values() for c in m.cidrs}


def too_many(endpoint_id: str, vpc: str, members: dict[str, MemberFacts]) -> str | None:
    """Why the endpoint cannot serve these members (AWS's policy size, the group's rule count, or CIDRs that admit
    the whole internet together), or None."""
    size = len(policy_text(policy_for(members)))
    clusters = len({m.cluster_arn for m in members.values()})
    if size > POLICY_MAX:
        return (f"endpoint {endpoint_id} in {vpc} would need a policy of {size} characters for {clusters} clusters; "
                f"AWS allows at most {POLICY_MAX} per VPC endpoint policy (white space included; not adjustable)")
    cidrs = cidrs_wanted(members) or set()
    if len(cidrs) > RULES_MAX:
        return (f"the endpoint's security group would need {len(cidrs)} HTTPS rules for the members' client CIDRs; "
                f"AWS allows {RULES_MAX} inbound rules per security group by default")
    networks = [ipaddress.IPv4Network(c) for c in cidrs]
    if networks and list(ipaddress.collapse_addresses(networks)) == [ipaddress.IPv4Network("0.0.0.0/0")]:
        return (f"the client CIDRs of the endpoint's members ({', '.join(sorted(cidrs))}) would together admit the "
                "whole internet to its security group, like 0.0.0.0/0")
    return None


FULL_HINT = ("One endpoint per VPC holds rds-data's private DNS name, its policy has one statement per cluster and its "
             "group one rule per client CIDR. Pass narrower --client-cidr values, put this deployment's clients in "
             "another VPC, or tear the VPC's deployments down and set them up again with --endpoint-policy full.")


def describe(ec2, endpoint_id: str, gone: tuple[str, ...] = ("deleted", "deleting")) -> dict | None:
    """The endpoint as AWS describes it now, or None once it is gone (NotFound, or in a `gone` state)."""
    try:
        found = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    except ClientError as exc:
        if "NotFound" in error_code(exc):
            return None
        raise
    live = [e for e in found if str(e.get("State", "")).lower() not in gone]
    return live[0] if live else None


def read(ec2, endpoint_id: str) -> tuple[dict | None, dict[str, MemberFacts]]:
    ep = describe(ec2, endpoint_id)
    return ep, (members_from(ep, list_member_groups(ec2, ep["VpcId"])) if ep else {})


def _converge_rules(ops, ep: dict, members: dict[str, MemberFacts]) -> bool:
    """Make the endpoint's group admit exactly the members' CIDRs (HTTPS in and out); True if it wrote."""
    want, groups = cidrs_wanted(members), [g["GroupId"] for g in ep.get("Groups", [])]
    if want is None or not groups:
        return False
    (sg,) = ops.client("ec2").describe_security_groups(GroupIds=groups[:1])["SecurityGroups"]
    wrote = False
    for direction, have in (("ingress", sg.get("IpPermissions")), ("egress", sg.get("IpPermissionsEgress"))):
        have_rules, want_rules = rules_of(have), rules_of([https_rule(sorted(want), RULE_NOTE)])
        if want_rules - have_rules:
            ops.call("ec2", f"authorize_security_group_{direction}", GroupId=groups[0],
                     IpPermissions=[https_rule(sorted(r[3] for r in want_rules - have_rules), RULE_NOTE)])
            wrote = True
        extra = {r for r in have_rules - want_rules if r[:3] == ("tcp", 443, 443) and "/" in str(r[3])}
        if extra:  # only HTTPS-from-a-CIDR rules no member asks for; anything else is the creator plan's to repair
            ops.call("ec2", f"revoke_security_group_{direction}", GroupId=groups[0],
                     IpPermissions=[permission_of(r) for r in sorted(extra)])
            wrote = True
    return wrote


def converge(ops, endpoint_id: str) -> tuple[dict | None, dict[str, MemberFacts]]:
    """Rewrite the policy and the group's rules from the members until a read shows they agree; the endpoint and
    members as last read (None: gone). AWS's full-access policy is left alone (it admits every member already)."""
    ec2 = ops.client("ec2")
    for _ in range(CONVERGE_ROUNDS):
        ep, members = read(ec2, endpoint_id)
        if ep is None or not members:
            return ep, members  # nobody left to admit: the last member deletes it
        wrote = _converge_rules(ops, ep, members)
        want = policy_for(members)
        if not (policies.is_full_access(ep.get("PolicyDocument"))
                or policies.equal(ep.get("PolicyDocument") or "{}", want)):
            problem = too_many(endpoint_id, ep.get("VpcId", "its VPC"), members)
            if problem:
                raise XacctError("The shared rds-data endpoint cannot serve its members: " + problem, FULL_HINT)
            ops.call("ec2", "modify_vpc_endpoint", VpcEndpointId=endpoint_id, PolicyDocument=policy_text(want))
            wrote = True
        if not wrote:
            return ep, members
    raise XacctError(f"The policy of endpoint {endpoint_id} kept changing under this run ({CONVERGE_ROUNDS} rounds).",
                     "Run the same command again once the other xacct runs in this VPC have finished.")


@procedure("ec2:join_shared_endpoint", actions=MEMBERSHIP_ACTIONS)
def join(ops, VpcEndpointId: str, Member: str, ClusterArn: str, GroupId: str, Cidrs: list) -> dict:
    """Write this deployment's facts on its own group, converge, and confirm the membership is in effect."""
    ec2 = ops.client("ec2")
    ep, members = read(ec2, VpcEndpointId)
    if ep is None:
        raise MembershipNotInEffect(f"Endpoint {VpcEndpointId} was deleted (its last member left) before deployment "
                                    f"{Member!r} could join it.", "Run setup again: it makes a new endpoint.")
    me = MemberFacts(ClusterArn, tuple(Cidrs), GroupId)
    problem = too_many(VpcEndpointId, ep.get("VpcId", ""), {**members, Member: me})
    if problem and members.get(Member) != me:
        raise XacctError(f"Deployment {Member!r} cannot join: {problem}.", FULL_HINT)
    tags = tag_dict(ep.get("Tags"))
    stale = [{"Key": k} for k in (CLOSING_TAG + Member, LEGACY_MEMBER_TAG + Member) if k in tags]
    if stale:  # its own abandoned teardown's mark, or its fact written the old way: it joins again the new way
        ops.call("ec2", "delete_tags", Resources=[VpcEndpointId], Tags=stale)
    if members.get(Member) != me:
        ops.call("ec2", "create_tags", Resources=[GroupId], Tags=facts_tags(VpcEndpointId, ClusterArn, Cidrs))
    try:
        converge(ops, VpcEndpointId)
    except XacctError:
        _withdraw(ops, VpcEndpointId, GroupId)  # over a limit: this run's facts go, the others' converge
        raise
    try:
        ops.wait_until(f"the members leaving endpoint {VpcEndpointId} to decide whether it is kept",
                       lambda: _settled(ops, VpcEndpointId))
    except WaitTimeout:
        closing = closing_of(describe(ec2, VpcEndpointId) or {})
        raise MembershipNotInEffect(
            f"Endpoint {VpcEndpointId} is marked as being deleted by deployment(s) {', '.join(closing)}, whose "
            "teardown saw no other member.",
            "If that teardown is no longer running, run it again (xacct teardown --name NAME), or remove the tag "
            f"{CLOSING_TAG}NAME from the endpoint; then run setup again.") from None
    return confirm(ops, VpcEndpointId, Member)


def closing_of(ep: dict) -> list[str]:
    return sorted(k[len(CLOSING_TAG):] for k in tag_dict(ep.get("Tags")) if k.startswith(CLOSING_TAG))


def _settled(ops, endpoint_id: str) -> bool:
    ep = describe(ops.client("ec2"), endpoint_id)
    return ep is None or not closing_of(ep)


def _withdraw(ops, endpoint_id: str, group_id: str) -> None:
    ops.call("ec2", "delete_tags", Resources=[group_id], Tags=[{"Key": k} for k in FACT_TAGS])
    converge(ops, endpoint_id)


def confirm(ops, endpoint_id: str, member: str) -> dict:
    """This deployment's membership is in effect: the endpoint is alive, not being closed, lists it as a member, and
    its policy and rules are the ones its members derive (or AWS's full access)."""
    ep, members = converge(ops, endpoint_id)
    if ep is None:
        raise MembershipNotInEffect(f"Endpoint {endpoint_id} was deleted by its last member leaving while deployment "
                                    f"{member!r} joined it.", "Run setup again: it makes a new endpoint.")
    if member not in members or closing_of(ep):
        raise MembershipNotInEffect(f"Deployment {member!r} is not a member of endpoint {endpoint_id} "
                                    f"({len(members)} members).", "Run setup again.")
    return {"VpcEndpoint": {"VpcEndpointId": endpoint_id}, "SecurityGroupIds": [g["GroupId"] for g in ep.get("Groups", [])]}


def leave(ops, endpoint_id: str, member: str, group_id: str | None) -> tuple[str, dict | None, int]:
    """Remove this deployment's membership. Returns ("kept", endpoint, how many others) or ("last", endpoint, 0)
    when no member is left: the caller deletes the endpoint (`endpoint` None: already gone)."""
    ec2 = ops.client("ec2")
    ep, members = read(ec2, endpoint_id)
    if ep is None:
        return "last", None, 0
    # The mark first: a leave interrupted after its facts went is still this deployment's (resource_types/ec2.py).
    mark = {"Key": CLOSING_TAG + member, "Value": "1"}
    if tag_dict(ep.get("Tags")).get(mark["Key"]) != mark["Value"]:  # a re-run of a killed leave finds it made
        ops.call("ec2", "create_tags", Resources=[endpoint_id], Tags=[mark])
    if LEGACY_MEMBER_TAG + member in tag_dict(ep.get("Tags")):
        ops.call("ec2", "delete_tags", Resources=[endpoint_id], Tags=[{"Key": LEGACY_MEMBER_TAG + member}])
    if group_id and members.get(member, MemberFacts("")).group_id == group_id:  # a re-run finds them gone already
        try:
            ops.call("ec2", "delete_tags", Resources=[group_id], Tags=[{"Key": k} for k in FACT_TAGS])
        except ClientError as exc:
            if "NotFound" not in error_code(exc):
                raise
    ep, members = read(ec2, endpoint_id)
    others = {k: v for k, v in members.items() if k != member}
    if not others:
        return "last", ep, 0
    ops.call("ec2", "delete_tags", Resources=[endpoint_id], Tags=[mark])  # only this run's own mark (key and value)
    converge(ops, endpoint_id)
    return "kept", ep, len(others)
