"""EC2: the rds-data interface endpoint and its security group, both shared by the deployments of one VPC.

Shared means "ours" is membership, not authorship: a deployment may delete (or leave) an endpoint it made or joined,
which AWS shows by the endpoint's `xacct:deployment` tag, this deployment's own group naming it (`xacct:endpoint`), or
the older `xacct:member:<name>` tag on the endpoint. The security
group is xacct's endpoint group (its name and tags say so) and either this deployment's, or the group of an endpoint
this deployment is a member of, or no longer used by any endpoint (the last member's leftover).
"""
from __future__ import annotations

from xacct_dataapi.config import TAG_DEPLOYMENT, TAG_MANAGED, Names
from xacct_dataapi.models import Account, Ref
from xacct_dataapi.resource_types.cfn import cfn_tags
from xacct_dataapi.resource_types.base import NOT_OURS, OURS, Ownership, ResourceType, read_or_none, tags_of
from xacct_dataapi.resource_types.grants import REQUEST_TAG, RESOURCE_TAG, SETUP, SG, TEARDOWN, VPCE, C, Grant

MEMBER_TAG = "xacct:member:"  # + a deployment's name (how steps/endpoint_members.py wrote members before)
ENDPOINT_TAG = "xacct:endpoint"  # on a member's own group: the endpoint it is a member of
CLOSING_TAG = "xacct:closing:"  # + a deployment that is leaving (its facts may be gone already)
_DEAD = ("deleted", "deleting")


def _live_endpoints_using(client, group_id: str) -> list[dict]:
    pages = client.get_paginator("describe_vpc_endpoints").paginate(
        Filters=[{"Name": "vpc-endpoint-type", "Values": ["Interface"]}])
    return [e for page in pages for e in page["VpcEndpoints"]
            if str(e.get("State", "")).lower() not in _DEAD and group_id in {g["GroupId"] for g in e.get("Groups", [])}]


def _cfn_rule(rule: dict) -> dict:
    (ip_range,) = rule["IpRanges"]
    return {"IpProtocol": rule["IpProtocol"], "FromPort": rule["FromPort"], "ToPort": rule["ToPort"],
            "CidrIp": ip_range["CidrIp"], "Description": ip_range["Description"]}


class VpcEndpoint(ResourceType):
    kind, service, noun, doctor_link = "vpc_endpoint", "ec2", "VPC endpoint", "endpoint"
    account = Account.CONSUMER
    cfn_refs = {"endpoint_id": ("Endpoint", None)}  # Ref of AWS::EC2::VPCEndpoint is its id

    def cloudformation(self, t, r, ctx) -> None:
        p = r.properties
        props = {"VpcEndpointType": p["VpcEndpointType"], "VpcId": p["VpcId"], "ServiceName": p["ServiceName"],
                 "SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": [Ref("security_group_id")],
                 "PrivateDnsEnabled": p["PrivateDnsEnabled"], "Tags": cfn_tags(r.tags)}
        if p["PolicyMode"] != "full":  # "full": no policy, AWS's default applies (as setup sends none)
            props["PolicyDocument"] = r.documents["endpoint_policy"]
        t.add("Endpoint", r.kind, "AWS::EC2::VPCEndpoint", props)

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
    kind, service, noun, doctor_link = "security_group", "ec2", "security group", "network"
    account = Account.CONSUMER
    cfn_refs = {"security_group_id": ("SecurityGroup", "GroupId")}

    def cloudformation(self, t, r, ctx) -> None:
        p = r.properties
        t.add("SecurityGroup", r.kind, "AWS::EC2::SecurityGroup", {
            "GroupName": p["GroupName"], "GroupDescription": p["Description"], "VpcId": p["VpcId"],
            "SecurityGroupIngress": [_cfn_rule(x) for x in p["Ingress"]],
            # Listing egress rules replaces the default allow-all, as setup's RevokeSecurityGroupEgress does.
            "SecurityGroupEgress": [_cfn_rule(x) for x in p["Egress"]], "Tags": cfn_tags(r.tags)})

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

# The operator's IAM grants for these calls (permissions.py assembles them; docs/permissions.md).
GRANTS: tuple[Grant, ...] = (
    # aws:RequestTag / aws:TagKeys exist only on the resource being created (service authorization reference, EC2:
    # CreateSecurityGroup and CreateVpcEndpoint list them on security-group / vpc-endpoint only): the VPC, subnets and
    # existing groups the call also names are granted without them, in their own statement.
    Grant("CreateInTheVpc", C, {"ec2:CreateSecurityGroup": SETUP, "ec2:CreateVpcEndpoint": SETUP},
          ("arn:{p}:ec2:{region}:{consumer}:vpc/{vpc}",)),
    Grant("EndpointInSubnetsWithGroup", C, {"ec2:CreateVpcEndpoint": SETUP},
          ("arn:{p}:ec2:{region}:{consumer}:subnet/*", SG)),
    Grant("CreateTaggedSecurityGroup", C, {"ec2:CreateSecurityGroup": SETUP}, (SG,), condition=REQUEST_TAG),
    Grant("CreateTaggedEndpoint", C, {"ec2:CreateVpcEndpoint": SETUP}, (VPCE,), condition=REQUEST_TAG),
    Grant("TagOnlyAtCreation", C, {"ec2:CreateTags": SETUP}, (SG, VPCE),
          condition={"StringEquals": {"ec2:CreateAction": ["CreateSecurityGroup", "CreateVpcEndpoint"]}},
          implied=("ec2:CreateTags",)),
    Grant("ManageXacctSecurityGroup", C,
          {"ec2:AuthorizeSecurityGroupIngress": SETUP, "ec2:AuthorizeSecurityGroupEgress": SETUP,
           "ec2:RevokeSecurityGroupIngress": SETUP, "ec2:RevokeSecurityGroupEgress": SETUP,
           "ec2:DeleteSecurityGroup": TEARDOWN}, (SG,), condition=RESOURCE_TAG),
    Grant("ManageXacctEndpoint", C, {"ec2:ModifyVpcEndpoint": SETUP, "ec2:DeleteVpcEndpoints": TEARDOWN}, (VPCE,),
          condition=RESOURCE_TAG),
    # The rds-data endpoint of a VPC is shared by its deployments (docs/reliability.md, "The shared endpoint"): each
    # adds and removes only its own member tag and closing mark, on any endpoint xacct made... StringLike: the policy
    # for any deployment (--name omitted) names the keys `xacct:member:*`, a wildcard StringEquals would compare
    # literally; a deployment name holds no * or ? (config.NAME_RE), so with --name it matches that name alone.
    Grant("JoinOrLeaveSharedEndpoint", C, {"ec2:CreateTags": ("setup", "teardown"), "ec2:DeleteTags": ("setup", "teardown")},
          (VPCE,), condition={"StringEquals": {f"aws:ResourceTag/{TAG_MANAGED}": "xacct"},
                              "ForAllValues:StringLike": {"aws:TagKeys": ["xacct:member:{name}", "xacct:closing:{name}"]}}),
    # Its membership facts are tags on its own group (steps/endpoint_members.py); it admits its members' client CIDRs
    # on the endpoint's group, which may be another deployment's.
    Grant("MembershipFactsOnOwnGroup", C, {"ec2:CreateTags": ("setup", "teardown"), "ec2:DeleteTags": ("setup", "teardown")},
          (SG,), condition={**RESOURCE_TAG, "ForAllValues:StringEquals": {"aws:TagKeys": [
              "xacct:endpoint", "xacct:cluster", "xacct:client-cidrs"]}}),
    Grant("SharedEndpointGroupRules", C,
          {"ec2:AuthorizeSecurityGroupIngress": ("setup", "teardown"), "ec2:AuthorizeSecurityGroupEgress": ("setup", "teardown"),
           "ec2:RevokeSecurityGroupIngress": ("setup", "teardown"), "ec2:RevokeSecurityGroupEgress": ("setup", "teardown")},
          (SG,), condition={"StringEquals": {f"aws:ResourceTag/{TAG_MANAGED}": "xacct"}}),
    # ...rewrites its policy from the members, and, as the last member out, deletes it (whoever made it).
    Grant("ConvergeSharedEndpoint", C, {"ec2:ModifyVpcEndpoint": ("setup", "teardown"), "ec2:DeleteVpcEndpoints": TEARDOWN},
          (VPCE,), condition={"StringEquals": {f"aws:ResourceTag/{TAG_MANAGED}": "xacct"}}),
    Grant("RepairEndpointSubnetsAndGroup", C, {"ec2:ModifyVpcEndpoint": SETUP},
          ("arn:{p}:ec2:{region}:{consumer}:subnet/*", SG)),
    # Private DNS associates the VPC with a hosted zone AWS owns (its id is not yours to name): any hosted zone.
    Grant("EndpointPrivateDns", C, {"route53:AssociateVPCWithHostedZone": SETUP}, ("arn:{p}:route53:::hostedzone/*",),
          implied=("route53:AssociateVPCWithHostedZone",)),
)
