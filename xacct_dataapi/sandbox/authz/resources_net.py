"""The resources of EC2, RDS, rds-data and SSM requests (resources.py has IAM, STS, KMS and Secrets Manager).

EC2 ("Actions, resources, and condition keys for Amazon EC2",
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html): CreateVpcEndpoint is
authorised on the vpc, each subnet, each security group and the new vpc-endpoint, CreateSecurityGroup on the vpc
and the new security-group; `aws:RequestTag`/`aws:TagKeys` only on the new resource. Tags given at creation are also
checked as `ec2:CreateTags` on the new resource with `ec2:CreateAction` set to the create action ("Grant permission
to tag resources during creation", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html).
An endpoint made with private DNS also needs `route53:AssociateVPCWithHostedZone` (a dependent action of
CreateVpcEndpoint in that reference), on any hosted zone: the zone is AWS's.
Describe calls take no resource (`*`), except DescribeVpcAttribute (the vpc).

SSM ("Actions, resources, and condition keys for AWS Systems Manager",
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html): a parameter's
actions are authorised on `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME` (the name without its leading `/`),
DescribeParameters on `*`; PutParameter's tags are `aws:RequestTag`.
"""
from __future__ import annotations

from typing import Any

from xacct_dataapi.sandbox.authz.resources import Target, arn_account, request_tags, tag_context

_EC2_TYPES = {"vpc-": "vpc", "subnet-": "subnet", "sg-": "security-group", "vpce-": "vpc-endpoint",
              "eni-": "network-interface", "acl-": "network-acl", "rtb-": "route-table"}
_CREATED = {"CreateVpcEndpoint": "vpc-endpoint", "CreateSecurityGroup": "security-group"}


def ec2_arn(region: str, acct: str, resource_id: str) -> str:
    kind = next((t for prefix, t in _EC2_TYPES.items() if resource_id.startswith(prefix)), "resource")
    return f"arn:aws:ec2:{region}:{acct}:{kind}/{resource_id}"


def _ec2_existing(acct: str, region: str, resource_id: str, extra: dict | None = None) -> Target:
    from moto.ec2.models import ec2_backends

    tags = ec2_backends[acct][region].tags.get(resource_id, {})
    return Target(ec2_arn(region, acct, resource_id), acct, tag_context("aws:ResourceTag", dict(tags)) | (extra or {}))


def _tag_specs(p: dict, kind: str) -> list:
    return [t for spec in p.get("TagSpecifications") or [] if spec.get("ResourceType") == kind
            for t in spec.get("Tags", [])]


def _private_dns(p: dict) -> bool:
    """CreateVpcEndpoint's PrivateDnsEnabled: an interface endpoint to an AWS service has it on by default."""
    interface = str(p.get("VpcEndpointType") or "Gateway").lower() == "interface"
    return bool(p["PrivateDnsEnabled"]) if p.get("PrivateDnsEnabled") is not None else interface


def _ec2(op: str, p: dict, acct: str, region: str) -> list[Target]:
    if op.startswith("Describe") and op != "DescribeVpcAttribute":
        return [Target("*")]
    if op == "DescribeVpcAttribute":
        return [_ec2_existing(acct, region, str(p.get("VpcId")))]
    if op in _CREATED:
        kind = _CREATED[op]
        tags = _tag_specs(p, kind) or [{"Key": t["Key"], "Value": t["Value"]} for t in p.get("Tags") or []]
        new = Target(f"arn:aws:ec2:{region}:{acct}:{kind}/*", acct, request_tags(tags))
        ids = [str(p.get("VpcId"))] + [str(s) for s in p.get("SubnetIds") or []] + \
              [str(g) for g in p.get("SecurityGroupIds") or []]
        targets = [_ec2_existing(acct, region, i) for i in ids if i and i != "None"] + [new]
        if tags:
            targets.append(Target(new.resource, acct, request_tags(tags) | {"ec2:createaction": [op]},
                                  action="ec2:CreateTags"))
        if op == "CreateVpcEndpoint" and _private_dns(p):
            # AWS associates the VPC with the service's private hosted zone on the caller's behalf; the zone is
            # AWS's and its id unknown beforehand, so only a statement for every hosted zone allows it.
            targets.append(Target("arn:aws:route53:::hostedzone/*", acct, action="route53:AssociateVPCWithHostedZone"))
        return targets
    if op in ("CreateTags", "DeleteTags"):
        tags = p.get("Tags") or []
        extra = request_tags(tags) if op == "CreateTags" else {"aws:tagkeys": [str(t.get("Key")) for t in tags]}
        return [_ec2_existing(acct, region, str(r), extra) for r in p.get("Resources") or []]
    if op == "ModifyVpcEndpoint":
        ids = [str(p.get("VpcEndpointId"))] + [str(i) for k in ("AddSubnetIds", "RemoveSubnetIds",
                                                                  "AddSecurityGroupIds", "RemoveSecurityGroupIds")
                                               for i in p.get(k) or []]
        return [_ec2_existing(acct, region, i) for i in ids]
    if op == "DeleteVpcEndpoints":
        return [_ec2_existing(acct, region, str(i)) for i in p.get("VpcEndpointIds") or []]
    if "GroupId" in p:
        return [_ec2_existing(acct, region, str(p["GroupId"]))]
    return [Target("*")]


def cluster(arn_or_id: str, acct: str, region: str) -> Any:
    from moto.rds.models import rds_backends

    if arn_or_id.startswith("arn:"):
        acct, region, arn_or_id = arn_account(arn_or_id) or acct, arn_or_id.split(":")[3], arn_or_id.split(":")[-1]
    try:
        return rds_backends[acct][region].clusters.get(arn_or_id)
    except Exception:
        return None


def _cluster_target(ident: str, acct: str, region: str) -> Target:
    found = cluster(ident, acct, region)
    arn = ident if ident.startswith("arn:") else f"arn:aws:rds:{region}:{acct}:cluster:{ident.lower()}"
    if found is None:
        return Target(arn, arn_account(arn))
    return Target(found.db_cluster_arn, arn_account(found.db_cluster_arn), tag_context("aws:ResourceTag", found.tags))


def _rds(op: str, p: dict, acct: str, region: str) -> list[Target]:
    ident = p.get("DBClusterIdentifier") or p.get("ResourceArn") or p.get("ResourceName")
    if op == "DescribeDBInstances":
        return [Target(f"arn:aws:rds:{region}:{acct}:db:{p.get('DBInstanceIdentifier') or '*'}", acct)]
    if op == "DescribeDBClusters" and not ident:
        return [Target(f"arn:aws:rds:{region}:{acct}:cluster:*", acct)]
    if ident and (":cluster:" in str(ident) or not str(ident).startswith("arn:")):
        target = _cluster_target(str(ident), acct, region)
        if op == "AddTagsToResource":
            target.context |= request_tags(p.get("Tags"))
        return [target]
    if ident:
        return [Target(str(ident), arn_account(str(ident)))]
    return [Target("*")]


def _rds_data(op: str, p: dict, acct: str, region: str) -> list[Target]:
    """The cluster. The secret read that follows (as the caller) is checked by the enforcer once this passes."""
    return [_cluster_target(str(p.get("resourceArn") or ""), acct, region)]


def _ssm(op: str, p: dict, acct: str, region: str) -> list[Target]:
    name = p.get("Name") or (p.get("ResourceId") if p.get("ResourceType") == "Parameter" else None)
    if not name:
        return [Target("*")]
    arn = f"arn:aws:ssm:{region}:{acct}:parameter/{str(name).lstrip('/')}"
    extra = request_tags(p.get("Tags")) if op in ("PutParameter", "AddTagsToResource") else {}
    return [Target(arn, acct, extra)]


def resolve(prefix: str, op: str, p: dict, acct: str, region: str) -> list[Target]:
    from xacct_dataapi.sandbox.authz import resources as r

    table = {"iam": r._iam, "sts": r._sts, "kms": r._kms, "secretsmanager": r._secretsmanager,
             "ec2": _ec2, "rds": _rds, "rds-data": _rds_data, "ssm": _ssm}
    resolver = table.get(prefix)
    return resolver(op, p, acct, region) if resolver else [Target("*")]
