"""Step 7's deletions: the endpoint (waiting until AWS reports it gone) and its security group (once the endpoint's
network interfaces have released it)."""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.errors import error_code
from xacct_dataapi.models import KEPT, NOTHING_CHANGED
from xacct_dataapi.procedures import procedure
from xacct_dataapi.steps.endpoint_members import MEMBERSHIP_ACTIONS, describe, leave


def _endpoint_by_id(ec2, endpoint_id: str) -> dict | None:
    """The endpoint, `deleting` included (a delete is done once it is `deleted` or gone)."""
    return describe(ec2, endpoint_id, gone=("deleted",))


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


@procedure("ec2:delete_security_group_when_released",
           actions=("ec2:DescribeVpcEndpoints", "ec2:DescribeNetworkInterfaces", "ec2:DeleteSecurityGroup"))
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
        return {NOTHING_CHANGED: f"{KEPT}used by endpoint {', '.join(users)}"}
    ops.wait_until(f"the network interfaces using security group {GroupId} to disappear", interfaces_gone)
    ops.wait_until(f"security group {GroupId} to be released by the endpoint's network interfaces "
                   "(DependencyViolation)", deleted)
    return outcome


@procedure("ec2:delete_vpc_endpoint_and_wait", actions=MEMBERSHIP_ACTIONS + ("ec2:DeleteVpcEndpoints",))
def leave_or_delete_endpoint(ops, VpcEndpointId: str, Member: str, GroupId: str | None = None) -> dict:
    """Teardown of a member: the last one out deletes the endpoint; any other removes only its facts (and the
    statement and rules no one else needs)."""
    outcome, ep, others = leave(ops, VpcEndpointId, Member, GroupId)
    if outcome == "last":
        return delete_endpoint(ops, VpcEndpointId, ep) if ep is not None else {NOTHING_CHANGED: "already gone"}
    ops.note(f"Kept endpoint {VpcEndpointId}: {others} other deployment(s) use it; removed only {Member}'s "
             "membership (its policy statement and rules unless another member needs them).")
    return {NOTHING_CHANGED: f"{KEPT}shared with {others} other deployment(s)"}
