"""Read-only AWS lookups that setup's preflight, the steps' inspections and doctor share: the cluster's writer, the
consumer VPC's DNS attributes, subnets, network ACLs and security groups, the rds-data endpoint service and private
hosted zones. Not-found is an empty answer, never an error. (Lower than every command: doctor and the preflight
both import it; doctor/reads.py keeps doctor's own.)"""
from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from xacct_dataapi.models import Account


def writer_instance(aws, cluster: dict) -> dict | None:
    """The writer's DescribeDBInstances entry (None for Serverless v1, which has no instances). The Data API
    runs on the writer only and not on T instance classes —
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.limitations.html"""
    writer = next((m for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
    if writer is None:
        return None
    rds = aws.client(Account.PROVIDER, "rds")
    found = rds.describe_db_instances(DBInstanceIdentifier=writer["DBInstanceIdentifier"])["DBInstances"]
    return found[0] if found else None


def cluster_elsewhere(aws, cluster_id: str) -> tuple[str, str] | None:
    """(region, what sets it) of a region the operator may have meant (AWS_DEFAULT_REGION, the profile's) in which the provider
    account has the cluster: a wrong --region looks like a wrong cluster id otherwise. The same read as the preflight's,
    elsewhere: an operator policy for the cluster's own region grants it there."""
    for region, where in aws.regions_meant().items():
        try:
            aws.client_elsewhere(Account.PROVIDER, "rds", region).describe_db_clusters(DBClusterIdentifier=cluster_id)
        except (ClientError, BotoCoreError):  # refused, missing, or no such region: not a place to send them
            continue
        return region, where
    return None


def vpc_dns(aws, vpc_id: str) -> dict[str, bool]:
    """Private DNS on an interface endpoint needs enableDnsSupport and enableDnsHostnames —
    https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/ec2/aws.sdk.kotlin.services.ec2.model/-create-vpc-endpoint-request/private-dns-enabled.html"""
    ec2 = aws.client(Account.CONSUMER, "ec2")
    out = {}
    for attr, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        out[attr] = bool(ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attr).get(key, {}).get("Value"))
    return out


def endpoint_service(aws, service: str) -> dict | None:
    """ServiceDetails of the rds-data endpoint service: AvailabilityZones (a subnet elsewhere gets "The VPC
    endpoint service ... does not support the availability zone of the subnet", terraform-aws-modules/terraform-aws-vpc#462)
    and VpcEndpointPolicySupported — botocore model ec2 DescribeVpcEndpointServices / ServiceDetail. ServiceNames=[...] (moto crashes on the
    service-name filter, docs/moto-gaps.md)."""
    ec2 = aws.client(Account.CONSUMER, "ec2")
    try:
        details = ec2.describe_vpc_endpoint_services(ServiceNames=[service]).get("ServiceDetails", [])
    except ClientError as exc:
        if "InvalidServiceName" in str(exc):
            return None
        raise
    return next((d for d in details if d.get("ServiceName") == service), None)


def private_hosted_zones(aws, vpc_id: str, region: str) -> list[dict]:
    """Private hosted zones associated with the VPC (any owner): one for rds-data.<region>.amazonaws.com (the
    centralised-endpoint pattern) takes the name the endpoint's private DNS needs — "conflicting DNS domain"
    (hashicorp/terraform-provider-aws#17535, #37783). Route 53 ListHostedZonesByVPC, botocore model route53."""
    r53 = aws.client(Account.CONSUMER, "route53")
    zones, token = [], None
    while True:
        kwargs = {"VPCId": vpc_id, "VPCRegion": region, **({"NextToken": token} if token else {})}
        page = r53.list_hosted_zones_by_vpc(**kwargs)
        zones += page.get("HostedZoneSummaries", [])
        token = page.get("NextToken")
        if not token:
            return zones


def unsupported_azs(service: dict, subnets_by_id: dict[str, dict]) -> list[tuple[str, str]]:
    """(subnet, AZ) pairs where the endpoint service is not offered (pure; setup's preflight and doctor)."""
    supported = set(service.get("AvailabilityZones") or [])
    return [(sid, s.get("AvailabilityZone")) for sid, s in sorted(subnets_by_id.items())
            if supported and s.get("AvailabilityZone") not in supported]


def conflicting_zones(zones: list[dict], region: str) -> list[dict]:
    """Private hosted zones named rds-data.<region>.amazonaws.com (pure; setup's preflight and doctor)."""
    name = f"rds-data.{region}.amazonaws.com"
    return [z for z in zones if z.get("Name", "").rstrip(".").lower() == name]


def endpoints_in_vpc(aws, vpc_id: str, service: str) -> list[dict]:
    ec2 = aws.client(Account.CONSUMER, "ec2")
    found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                {"Name": "service-name", "Values": [service]}])["VpcEndpoints"]
    return [e for e in found if str(e.get("State", "")).lower() not in ("deleted", "deleting")]


def security_groups(aws, group_ids: list[str]) -> list[dict]:
    if not group_ids:
        return []
    return aws.client(Account.CONSUMER, "ec2").describe_security_groups(GroupIds=group_ids)["SecurityGroups"]


def network_acls(aws, vpc_id: str) -> tuple[dict[str, dict], dict[str, str]]:
    """Subnet id -> its network ACL, and subnet id -> its CIDR, for every subnet of the VPC (step 8's reads)."""
    ec2 = aws.client(Account.CONSUMER, "ec2")
    vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    acls = ec2.describe_network_acls(Filters=vpc)["NetworkAcls"]
    cidrs = {s["SubnetId"]: s["CidrBlock"] for s in ec2.describe_subnets(Filters=vpc)["Subnets"]}
    return {a["SubnetId"]: acl for acl in acls for a in acl.get("Associations", []) if a.get("SubnetId")}, cidrs


def subnets(aws, subnet_ids: list[str]) -> dict[str, dict]:
    """The subnets that exist (a filter, not SubnetIds: a missing one is left out, not an error)."""
    if not subnet_ids:
        return {}
    found = aws.client(Account.CONSUMER, "ec2").describe_subnets(
        Filters=[{"Name": "subnet-id", "Values": list(subnet_ids)}])["Subnets"]
    return {s["SubnetId"]: s for s in found}
