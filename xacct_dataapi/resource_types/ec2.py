"""EC2: the rds-data interface endpoint and its security group, both shared by the deployments of one VPC.

Shared means "ours" is membership, not authorship: a deployment may delete (or leave) an endpoint it made or joined,
which AWS shows by the endpoint's `xacct:deployment` tag, this deployment's own group naming it (`xacct:endpoint`), or
the older `xacct:member:<name>` tag on the endpoint. The security
group is xacct's endpoint group (its name and tags say so) and either this deployment's, or the group of an endpoint
this deployment is a member of, or no longer used by any endpoint (the last member's leftover).
"""
from __future__ import annotations

from xacct_dataapi.config import TAG_DEPLOYMENT, TAG_MANAGED, Names
from xacct_dataapi.models import Account
from xacct_dataapi.resource_types.base import NOT_OURS, OURS, Ownership, ResourceType, read_or_none, tags_of

MEMBER_TAG = "xacct:member:"  # + a deployment's name (how steps/endpoint_members.py wrote members before)
ENDPOINT_TAG = "xacct:endpoint"  # on a member's own group: the endpoint it is a member of
CLOSING_TAG = "xacct:closing:"  # + a deployment that is leaving (its facts may be gone already)
_DEAD = ("deleted", "deleting")


def _live_endpoints_using(client, group_id: str) -> list[dict]:
    pages = client.get_paginator("describe_vpc_endpoints").paginate(
        Filters=[{"Name": "vpc-endpoint-type", "Values": ["Interface"]}])
    return [e for page in pages for e in page["VpcEndpoints"]
            if str(e.get("State", "")).lower() not in _DEAD and group_id in {g["GroupId"] for g in e.get("Groups", [])}]


class VpcEndpoint(ResourceType):
    kind, service, noun = "vpc_endpoint", "ec2", "VPC endpoint"
    account = Account.CONSUMER

    def read(self, client, row):
        found = read_or_none(client.describe_vpc_endpoints, VpcEndpointIds=[row.id])
        live = [e for e in (found or {}).get("VpcEndpoints", []) if str(e.get("State", "")).lower() not in _DEAD]
        if not live:
            return None
        groups = client.describe_security_groups(Filters=[{"Name": f"tag:{ENDPOINT_TAG}", "Values": [row.id]}])
        members = {tags_of(g.get("Tags")).get(TAG_DEPLOYMENT) for g in groups["SecurityGroups"]
                   if g.get("GroupName") == Names(tags_of(g.get("Tags")).get(TAG_DEPLOYMENT) or "x").security_group}
        return {**live[0], "Tags": tags_of(live[0].get("Tags")), "Members": members}

    def judge(self, found, row, names):
        tags = found["Tags"]
        if tags.get(TAG_MANAGED) != "xacct":
            return Ownership(NOT_OURS, "it was not made by xacct")
        if (tags.get(TAG_DEPLOYMENT) == names.deployment or MEMBER_TAG + names.deployment in tags
                or names.deployment in found.get("Members", ())
                or CLOSING_TAG + names.deployment in tags):  # a leave interrupted after its facts went
            return Ownership(OURS, f"deployment {names.deployment!r} made, joined or is leaving it")
        return Ownership(NOT_OURS, f"deployment {names.deployment!r} is not one of its members")


class SecurityGroup(ResourceType):
    kind, service, noun = "security_group", "ec2", "security group"
    account = Account.CONSUMER

    def read(self, client, row):
        found = read_or_none(client.describe_security_groups, GroupIds=[row.id])
        groups = (found or {}).get("SecurityGroups", [])
        if not groups:
            return None
        return {**groups[0], "Tags": tags_of(groups[0].get("Tags")), "UsedBy": _live_endpoints_using(client, row.id)}

    def judge(self, found, row, names):
        tags = found["Tags"]
        maker = tags.get(TAG_DEPLOYMENT)
        if tags.get(TAG_MANAGED) != "xacct" or not maker or found.get("GroupName") != Names(maker).security_group:
            return Ownership(NOT_OURS, "it is not an rds-data endpoint group made by xacct")
        if maker == names.deployment:
            return Ownership(OURS, f"deployment {names.deployment!r} made it")
        if found["UsedBy"]:  # the delete keeps a group an endpoint still uses: nothing of another's is removed
            return Ownership(OURS, "an endpoint still uses it, so the delete keeps it")
        # Made by another deployment and used by no endpoint: the leftover of a shared endpoint whose last member
        # (this deployment) deleted it. Known gap: the maker's setup between its CreateSecurityGroup and its
        # CreateVpcEndpoint looks the same (docs/reliability.md).
        return Ownership(OURS, f"deployment {maker!r} made it for a shared endpoint that no longer exists")


TYPES = (VpcEndpoint(), SecurityGroup())
