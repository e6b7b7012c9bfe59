"""The shared rds-data endpoint's membership, coordinated through AWS alone (operators may be on different machines;
docs/reliability.md, "The shared endpoint", gives the interleavings and why each converges).

- Each member deployment is one tag on the endpoint, `xacct:member:<name>` = its cluster ARN, which it adds or removes
  itself: tags are per key, so members never overwrite each other's facts.
- The endpoint policy is derived from the member tags. Whoever changes a tag rewrites the derived policy, reads the
  endpoint back and repeats until the policy read matches the tags read with it. The last write is always followed
  by its writer's read, so the endpoint ends with the policy of the members it ends with.
- A member that leaves removes its tag, then marks `xacct:closing:<name>`, then reads: if any member tag is left it
  removes its mark and keeps the endpoint; if none, it deletes the endpoint. A joiner whose tag was written before
  that read keeps the endpoint alive; one whose tag came later sees the mark on every read until the deletion, and
  never confirms its membership on an endpoint about to go.
- A run confirms its own membership (tag present, no closing mark, policy admits it) before it ends well; otherwise
  it fails (exit 1) and a re-run converges.
"""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from xacct_dataapi import policies
from xacct_dataapi.config import TAG_DEPLOYMENT, TAG_MANAGED, Names
from xacct_dataapi.errors import WaitTimeout, XacctError, error_code
from xacct_dataapi.models import NOTHING_CHANGED
from xacct_dataapi.steps.common import tag_dict

MEMBER_TAG = "xacct:member:"  # + a deployment's name; the value: its cluster ARN (the role ARN follows from both)
CLOSING_TAG = "xacct:closing:"  # + the name of a member deleting the endpoint because it saw no other member
# AWS limits (docs/aws-facts.md): a VPC endpoint policy is at most 20,480 characters including white space; an EC2
# resource carries at most 50 tags, each value at most 256 characters.
POLICY_MAX = 20_480
TAGS_MAX = 50
TAG_VALUE_MAX = 256
BASE_TAGS = 3  # Name, xacct:deployment, xacct:managed: what the endpoint carries besides member tags
CONVERGE_ROUNDS = 25


class MembershipNotInEffect(XacctError):
    """The run ends with this deployment's membership of the shared endpoint not in effect (exit 1)."""


def member_value(cluster_arn: str) -> str:
    if len(cluster_arn) > TAG_VALUE_MAX:  # a cluster id has at most 63 characters: this cannot happen on AWS
        raise XacctError(f"Cluster ARN {cluster_arn} is longer than an EC2 tag value may be ({TAG_VALUE_MAX}).",
                         "Use a cluster with a shorter identifier.")
    return cluster_arn


def role_of(name: str, cluster_arn: str) -> str:
    """The access role a member names implicitly: deterministic from its name and cluster (config.Names)."""
    parts = cluster_arn.split(":")  # arn:PARTITION:rds:REGION:ACCOUNT:cluster:ID
    partition, region, account, cluster_id = parts[1], parts[3], parts[4], parts[6]
    names = Names(name)
    return policies.role_arn(account, names.access_role, partition, names.access_role_path(cluster_id, region))


def members_of(ep: dict | None) -> dict[str, tuple[str, str]]:
    """The deployments an endpoint serves, from its member tags: name -> (access role ARN, cluster ARN). A value with
    a space is the older "<role ARN> <cluster ARN>" form. An endpoint made before member tags existed has none: its
    creator (the xacct:deployment tag) is a member with the grant its policy holds."""
    if not ep:
        return {}
    tags = tag_dict(ep.get("Tags"))
    found: dict[str, tuple[str, str]] = {}
    for key, value in tags.items():
        if key.startswith(MEMBER_TAG) and value:
            name = key[len(MEMBER_TAG):]
            found[name] = tuple(value.split(" ", 1)) if " " in value else (role_of(name, value), value)
    creator = tags.get(TAG_DEPLOYMENT)
    if not found and creator and not closing_of(ep):
        for statement in policies.parse(ep.get("PolicyDocument") or "{}").get("Statement", []):
            role = statement.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn")
            if isinstance(role, str) and isinstance(statement.get("Resource"), str):
                found[creator] = (role, statement["Resource"])
                break
    return found


def closing_of(ep: dict) -> list[str]:
    return sorted(k[len(CLOSING_TAG):] for k in tag_dict(ep.get("Tags")) if k.startswith(CLOSING_TAG))


def policy_for(members: dict[str, tuple[str, str]]) -> dict:
    return policies.endpoint_policy_for_members(sorted(members.values()))


def policy_text(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))


def too_many(endpoint_id: str, vpc: str, members: dict, joining: str) -> str | None:
    """Why the endpoint cannot take `joining` as well (AWS's policy size or tag count), or None."""
    everyone = {**members, joining: members.get(joining, ("", ""))}
    if len(everyone) + BASE_TAGS > TAGS_MAX:
        return (f"endpoint {endpoint_id} in {vpc} would carry {len(everyone) + BASE_TAGS} tags with deployment "
                f"{joining!r}; AWS allows {TAGS_MAX} per resource")
    size = len(policy_text(policy_for(members)))
    if size > POLICY_MAX:
        return (f"endpoint {endpoint_id} in {vpc} would need a policy of {size} characters for {len(members)} "
                f"deployments; AWS allows at most {POLICY_MAX} per VPC endpoint policy (white space included; not "
                "adjustable)")
    return None


FULL_HINT = ("One endpoint per VPC holds rds-data's private DNS name, and each deployment adds one statement and one "
             "tag to it. Put this deployment's clients in another VPC, or let the VPC's endpoint use AWS's default "
             "policy: tear its deployments down and set them up again with --endpoint-policy full (each access "
             "role's own policy still limits it to its cluster).")


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


def converge_policy(ops, endpoint_id: str) -> dict | None:
    """Rewrite the policy from the member tags until a read shows the two agree; the endpoint as last read (None:
    gone). AWS's full-access policy is left alone (it admits every member already)."""
    ec2 = ops.client("ec2")
    for _ in range(CONVERGE_ROUNDS):
        ep = describe(ec2, endpoint_id)
        if ep is None or policies.is_full_access(ep.get("PolicyDocument")):
            return ep
        members = members_of(ep)
        if not members:
            return ep  # nobody left to admit: the last member deletes it
        want = policy_for(members)
        if policies.equal(ep.get("PolicyDocument") or "{}", want):
            return ep
        if len(policy_text(want)) > POLICY_MAX:
            raise XacctError("The shared rds-data endpoint's policy would exceed AWS's limit: "
                             + str(too_many(endpoint_id, ep.get("VpcId", "its VPC"), members, next(iter(members)))),
                             FULL_HINT)
        ops.call("ec2", "modify_vpc_endpoint", VpcEndpointId=endpoint_id, PolicyDocument=policy_text(want))
    raise XacctError(f"The policy of endpoint {endpoint_id} kept changing under this run ({CONVERGE_ROUNDS} rounds).",
                     "Run the same command again once the other xacct runs in this VPC have finished.")


def join(ops, VpcEndpointId: str, Member: str, ClusterArn: str) -> dict:
    """Add this deployment's member tag, converge the policy, and confirm the membership is in effect."""
    ec2 = ops.client("ec2")
    ep = describe(ec2, VpcEndpointId)
    if ep is None:
        raise MembershipNotInEffect(f"Endpoint {VpcEndpointId} was deleted (its last member left) before deployment "
                                    f"{Member!r} could join it.", "Run setup again: it makes a new endpoint.")
    problem = too_many(VpcEndpointId, ep.get("VpcId", ""), {**members_of(ep), Member: (role_of(Member, ClusterArn), ClusterArn)}, Member)
    if problem and MEMBER_TAG + Member not in tag_dict(ep.get("Tags")):
        raise XacctError(f"Deployment {Member!r} cannot join: {problem}.", FULL_HINT)
    value = member_value(ClusterArn)
    if CLOSING_TAG + Member in tag_dict(ep.get("Tags")):  # this deployment's own teardown, abandoned: it joins again
        ops.call("ec2", "delete_tags", Resources=[VpcEndpointId], Tags=[{"Key": CLOSING_TAG + Member}])
    if tag_dict(ep.get("Tags")).get(MEMBER_TAG + Member) != value:
        ops.call("ec2", "create_tags", Resources=[VpcEndpointId], Tags=[{"Key": MEMBER_TAG + Member, "Value": value}])
    try:
        ep = converge_policy(ops, VpcEndpointId)
    except XacctError:
        _withdraw(ops, VpcEndpointId, Member)  # over a limit: this run's tag goes, the others' policy converges
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


def _settled(ops, endpoint_id: str) -> bool:
    ep = describe(ops.client("ec2"), endpoint_id)
    return ep is None or not closing_of(ep)


def _withdraw(ops, endpoint_id: str, member: str) -> None:
    ops.call("ec2", "delete_tags", Resources=[endpoint_id], Tags=[{"Key": MEMBER_TAG + member}])
    converge_policy(ops, endpoint_id)


def confirm(ops, endpoint_id: str, member: str) -> dict:
    """This deployment's membership is in effect: the endpoint is alive, not being closed, carries its tag, and its
    policy admits it (the policy derived from the tags read with it, or AWS's full access)."""
    ep = converge_policy(ops, endpoint_id)
    if ep is None:
        raise MembershipNotInEffect(f"Endpoint {endpoint_id} was deleted by its last member leaving while deployment "
                                    f"{member!r} joined it.", "Run setup again: it makes a new endpoint.")
    if MEMBER_TAG + member not in tag_dict(ep.get("Tags")) or closing_of(ep):
        raise MembershipNotInEffect(f"Deployment {member!r} is not a member of endpoint {endpoint_id} "
                                    f"(member tags: {', '.join(sorted(members_of(ep))) or 'none'}).",
                                    "Run setup again.")
    return {"VpcEndpoint": {"VpcEndpointId": endpoint_id}, "SecurityGroupIds": [g["GroupId"] for g in ep.get("Groups", [])]}


def leave(ops, endpoint_id: str, member: str) -> tuple[str, dict | None, list[str]]:
    """Remove this deployment's membership. Returns ("kept", endpoint, other members) or ("last", endpoint, [])
    when no member is left: the caller deletes the endpoint (`endpoint` None: already gone)."""
    ec2 = ops.client("ec2")
    ep = describe(ec2, endpoint_id)
    if ep is None:
        return "last", None, []
    tags = tag_dict(ep.get("Tags"))
    if MEMBER_TAG + member in tags:
        ops.call("ec2", "delete_tags", Resources=[endpoint_id], Tags=[{"Key": MEMBER_TAG + member}])
    mark = {"Key": CLOSING_TAG + member, "Value": "1"}
    ops.call("ec2", "create_tags", Resources=[endpoint_id], Tags=[mark])
    ep = describe(ec2, endpoint_id)
    others = {k: v for k, v in members_of(ep).items() if k != member} if ep else {}
    if not others:
        return "last", ep, []
    ops.call("ec2", "delete_tags", Resources=[endpoint_id], Tags=[mark])  # only this run's own mark (key and value)
    converge_policy(ops, endpoint_id)
    return "kept", ep, sorted(others)


def leave_or_delete_endpoint(ops, VpcEndpointId: str, Member: str) -> dict:
    """Teardown of a member: the last one out deletes the endpoint; any other removes only its tag and statement."""
    from xacct_dataapi.steps.endpoint_cleanup import delete_endpoint

    outcome, ep, others = leave(ops, VpcEndpointId, Member)
    if outcome == "last":
        return delete_endpoint(ops, VpcEndpointId, ep) if ep is not None else {NOTHING_CHANGED: "already gone"}
    ops.note(f"Kept endpoint {VpcEndpointId}: deployment(s) {', '.join(others)} use it; removed only "
             f"{Member}'s member tag and policy statement.")
    return {NOTHING_CHANGED: "kept: shared with " + ", ".join(others)}


def _private_dns_endpoint(ec2, vpc_id: str, service: str) -> dict | None:
    found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                {"Name": "service-name", "Values": [service]}])["VpcEndpoints"]
    live = [e for e in found if e.get("PrivateDnsEnabled")
            and str(e.get("State", "")).lower() not in ("deleted", "deleting", "failed", "rejected")]
    return sorted(live, key=lambda e: e["VpcEndpointId"])[0] if live else None


def create_or_join(ops, Create: dict, Member: str, ClusterArn: str) -> dict:
    """Create the VPC's rds-data endpoint; if AWS refuses because another endpoint already holds the private DNS name
    (another xacct setup in this VPC got there first), join that one instead."""
    try:
        return ops.call("ec2", "create_vpc_endpoint", **Create)
    except ClientError as exc:
        if error_code(exc) != "InvalidParameter" or "conflicting DNS domain" not in str(exc):
            raise
    ec2 = ops.client("ec2")
    winner = _private_dns_endpoint(ec2, Create["VpcId"], Create["ServiceName"])
    if winner is None or tag_dict(winner.get("Tags")).get(TAG_MANAGED) != "xacct":
        what = f"endpoint {winner['VpcEndpointId']}, not made by xacct" if winner else "an endpoint now gone"
        raise XacctError(f"VPC {Create['VpcId']} already has an rds-data endpoint with private DNS ({what}).",
                         "Only one endpoint per VPC can own rds-data's private DNS name. Delete the other one, or run "
                         "setup again if it was being deleted.")
    ops.note(f"Endpoint {winner['VpcEndpointId']} was made first by another xacct setup in {Create['VpcId']}; "
             f"deployment {Member} joins it.")
    return join(ops, winner["VpcEndpointId"], Member, ClusterArn)


def settle(ops, VpcEndpointId: str, Member: str, ClusterArn: str, OwnGroupId: str, OwnGroupName: str) -> dict:
    """The last item of a new endpoint's step: the membership is confirmed; if the endpoint turned out to be another
    deployment's (its create was refused), this run's new security group is unused: deleted, and the endpoint's
    group is recorded instead."""
    from xacct_dataapi.steps.endpoint_cleanup import delete_security_group

    groups = join(ops, VpcEndpointId, Member, ClusterArn)["SecurityGroupIds"]
    if not groups or OwnGroupId in groups:
        return {"SecurityGroupId": OwnGroupId, "Replaced": "", "GroupName": OwnGroupName}
    delete_security_group(ops, GroupId=OwnGroupId)
    shared = ops.client("ec2").describe_security_groups(GroupIds=[groups[0]])["SecurityGroups"][0]
    return {"SecurityGroupId": shared["GroupId"], "Replaced": OwnGroupId, "GroupName": shared.get("GroupName", "")}
