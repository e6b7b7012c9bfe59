"""Step 7's first setup in a VPC: create the rds-data endpoint, or join the one another xacct setup made first."""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.config import TAG_MANAGED
from xacct_dataapi.errors import XacctError, error_code
from xacct_dataapi.procedures import procedure
from xacct_dataapi.steps.common import tag_dict
from xacct_dataapi.steps.endpoint_members import MEMBERSHIP_ACTIONS, join


def _private_dns_endpoint(ec2, vpc_id: str, service: str) -> dict | None:
    found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                {"Name": "service-name", "Values": [service]}])["VpcEndpoints"]
    live = [e for e in found if e.get("PrivateDnsEnabled")
            and str(e.get("State", "")).lower() not in ("deleted", "deleting", "failed", "rejected")]
    return sorted(live, key=lambda e: e["VpcEndpointId"])[0] if live else None


@procedure("ec2:create_vpc_endpoint", actions=("ec2:CreateVpcEndpoint", "ec2:DescribeVpcEndpoints"))
def create_or_join(ops, Create: dict, Member: str, ClusterArn: str) -> dict:
    """Create the VPC's rds-data endpoint; if AWS refuses because another endpoint already holds the private DNS name
    (another xacct setup in this VPC got there first), use that one (settle() then joins it)."""
    try:
        return ops.call("ec2", "create_vpc_endpoint", **Create)
    except ClientError as exc:
        if error_code(exc) != "InvalidParameter" or "conflicting DNS domain" not in str(exc):
            raise
    winner = _private_dns_endpoint(ops.client("ec2"), Create["VpcId"], Create["ServiceName"])
    if winner is None or tag_dict(winner.get("Tags")).get(TAG_MANAGED) != "xacct":
        what = f"endpoint {winner['VpcEndpointId']}, not made by xacct" if winner else "an endpoint now gone"
        raise XacctError(f"VPC {Create['VpcId']} already has an rds-data endpoint with private DNS ({what}).",
                         "Only one endpoint per VPC can own rds-data's private DNS name. Delete the other one, or run "
                         "setup again if it was being deleted.")
    ops.note(f"Endpoint {winner['VpcEndpointId']} was made first by another xacct setup in {Create['VpcId']}; "
             f"deployment {Member} joins it.")
    return {"VpcEndpoint": {"VpcEndpointId": winner["VpcEndpointId"]}}


@procedure("ec2:confirm_endpoint_membership", actions=MEMBERSHIP_ACTIONS)
def settle(ops, VpcEndpointId: str, Member: str, ClusterArn: str, OwnGroupId: str, OwnGroupName: str, Cidrs: list) -> dict:
    """The last item of a new endpoint's step: this deployment's facts go on its own group and the membership is
    confirmed. If the endpoint turned out to be another deployment's (its create was refused), this run's group stays
    as its member group (attached to nothing) and the endpoint's group is recorded as the shared one."""
    groups = join(ops, VpcEndpointId, Member, ClusterArn, OwnGroupId, Cidrs)["SecurityGroupIds"]
    if not groups or OwnGroupId in groups:
        return {"SecurityGroupId": OwnGroupId, "GroupName": OwnGroupName}
    shared = ops.client("ec2").describe_security_groups(GroupIds=[groups[0]])["SecurityGroups"][0]
    return {"SecurityGroupId": shared["GroupId"], "GroupName": shared.get("GroupName", "")}

