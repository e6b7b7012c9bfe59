"""Preflight: the reads that turn the operator's inputs into facts before anything is planned (the accounts, the
cluster and whether the Data API can run on it, the VPC and its subnets, the consumer principal, the rds-data
endpoint service), each raising a UsageError that names the bad input and the fix. Read-only."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from botocore.exceptions import ClientError

from xacct_dataapi import aws_reads, data_api_support
from xacct_dataapi.aws import Sessions, is_access_denied, is_not_found
from xacct_dataapi.config import CLUSTER_ARN_RE, ROLE_ARN_RE, Config
from xacct_dataapi.errors import AwsError, StateError, UsageError, error_message
from xacct_dataapi.models import Account
from xacct_dataapi.policies import user_arn
from xacct_dataapi.resource_types.grants import CLUSTER, FINDS, READS, TEARDOWN, C, Grant, P
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.state import State


@dataclass
class Cluster:
    id: str
    arn: str
    engine: str
    engine_mode: str
    endpoint: str
    port: int
    database: str | None
    http_endpoint_enabled: bool
    tags: dict = field(default_factory=dict)  # the cluster's tags (xacct:data-api-enabled-by)
    engine_version: str = ""
    writer: str | None = None  # the writer instance's identifier (None: Serverless v1, no instances)
    master_user_secret: str | None = None  # the ARN of the RDS-managed master user secret, if RDS manages it

    @property
    def is_serverless_v1(self) -> bool:
        return self.engine_mode == "serverless"


@dataclass
class ConsumerPrincipal:
    kind: str  # "user" | "role"
    name: str
    arn: str
    adopted: bool


def _read(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ClientError as exc:
        raise AwsError(f"Could not read {what}: {error_message(exc)}.",
                       "Check the profile's read permissions (docs/permissions.md).") from None


def check_accounts(aws: Sessions, state: State | None) -> tuple[str, str]:
    consumer_r, provider_r = gather(lambda: aws.account_id(Account.CONSUMER), lambda: aws.account_id(Account.PROVIDER))
    consumer, provider = unwrap(consumer_r), unwrap(provider_r)
    if consumer == provider:
        raise UsageError(
            f"--consumer-profile {aws.consumer_profile!r} and --provider-profile {aws.provider_profile!r} are both "
            f"in account {consumer}.",
            "xacct connects two different accounts: pass the profile of the account that owns the Aurora cluster "
            "as --provider-profile and the application's account as --consumer-profile.",
        )
    if state is not None and state.accounts:
        recorded = (state.accounts.get("consumer"), state.accounts.get("provider"))
        if recorded != (consumer, provider):
            raise StateError(
                f"The state for deployment {state.name!r} belongs to consumer {recorded[0]} / provider {recorded[1]}, "
                f"but the profiles resolve to consumer {consumer} / provider {provider}.",
                "Use the profiles that created it, or another --name for a new deployment. The state file was not changed.",
            )
    return consumer, provider


# The AWS CLI's order; boto3 alone would skip AWS_REGION (aws.region_from_environment; docs/aws-facts.md).
REGION_SOURCES = ("xacct works in --region if given, else in AWS_REGION, else in AWS_DEFAULT_REGION, else in the "
                  "provider profile's region (the AWS CLI's order).")


def describe_cluster(aws: Sessions, cfg: Config, provider_account: Callable[[], str]) -> Cluster:
    """`provider_account` is asked for only after the describe call, which runs at the same time as STS."""
    rds = aws.client(Account.PROVIDER, "rds")
    try:
        found, error = rds.describe_db_clusters(DBClusterIdentifier=cfg.cluster_id)["DBClusters"], None
    except ClientError as exc:
        found, error = [], exc
    m = CLUSTER_ARN_RE.match(cfg.cluster)
    if m:
        region, account = m.group(1), m.group(2)
        if account != provider_account():
            raise UsageError(
                f"--cluster {cfg.cluster} is in account {account}, but --provider-profile resolves to {provider_account()}.",
                "Pass the profile of the account that owns the cluster as --provider-profile.",
            )
        if region != aws.region:
            raise UsageError(
                f"--cluster {cfg.cluster} is in region {region}, but xacct is working in {aws.region}.",
                f"PrivateLink for rds-data is regional: pass --region {region}.",
            )
    swapped = error is not None and (is_not_found(error) or is_access_denied(error)) and _exists_in_consumer(aws, cfg)
    if error is not None and (is_not_found(error) or is_access_denied(error)) and not swapped:
        elsewhere = aws_reads.cluster_elsewhere(aws, cfg.cluster_id)
        if elsewhere:
            raise UsageError(f"--cluster {cfg.cluster!r} is not in region {aws.region}, where xacct looked: provider "
                             f"account {provider_account()} has it in {elsewhere[0]} ({elsewhere[1]}).",
                             f"Pass --region {elsewhere[0]}. {REGION_SOURCES}") from None
    if error is not None:
        if is_not_found(error):
            hint = ("Check the identifier with `aws rds describe-db-clusters --profile PROVIDER_PROFILE --region "
                    f"{aws.region}`, and the region. {REGION_SOURCES}")
            if swapped:
                hint = ("It exists in the consumer profile's account: were --consumer-profile and --provider-profile swapped? "
                        "--provider-profile is the account that owns the cluster.")
            raise UsageError(
                f"--cluster {cfg.cluster!r}: no such DB cluster in provider account {provider_account()}, region {aws.region}.",
                hint,
            ) from None
        if is_access_denied(error):
            # A least-privilege profile may describe its one cluster only: a mistyped id, or the consumer's profile
            # given as the provider's, is refused rather than not found.
            if swapped:
                raise UsageError(f"--cluster {cfg.cluster!r}: the provider profile may not describe it, and the "
                                 "consumer profile's account has it: were --consumer-profile and --provider-profile "
                                 "swapped?", "--provider-profile is the account that owns the cluster.") from None
            raise AwsError(f"Could not describe cluster {cfg.cluster!r} in provider account {provider_account()}, "
                           f"region {aws.region}: {error_message(error)}.",
                           "Check the identifier and the region: `xacct permissions --side provider --cluster ID "
                           "--region REGION` grants one cluster in one region, so another id or region is refused, "
                           f"not reported missing. {REGION_SOURCES}") from None
        raise AwsError(f"Could not describe cluster {cfg.cluster!r}: {error_message(error)}.") from None
    c = found[0]
    if not str(c.get("Engine", "")).startswith("aurora"):
        raise UsageError(f"--cluster {cfg.cluster!r} runs {c.get('Engine')}, not Aurora.",
                         "The RDS Data API works only with Aurora MySQL and Aurora PostgreSQL clusters.")
    return Cluster(
        id=c["DBClusterIdentifier"],
        arn=c["DBClusterArn"],
        engine=c.get("Engine", ""),
        engine_mode=c.get("EngineMode", "provisioned"),
        endpoint=c.get("Endpoint", ""),
        port=int(c.get("Port") or (5432 if "postgres" in c.get("Engine", "") else 3306)),
        database=c.get("DatabaseName"),
        # A Boolean (DBCluster.HttpEndpointEnabled); any other value from AWS is untrusted and not on.
        http_endpoint_enabled=c.get("HttpEndpointEnabled") is True,
        tags={t["Key"]: t["Value"] for t in c.get("TagList") or []},
        engine_version=str(c.get("EngineVersion", "")),
        writer=next((m["DBInstanceIdentifier"] for m in c.get("DBClusterMembers") or [] if m.get("IsClusterWriter")),
                    None),
        master_user_secret=(c.get("MasterUserSecret") or {}).get("SecretArn"),
    )


def check_data_api_support(aws: Sessions, cluster: Cluster) -> None:
    """Before turning the Data API on (before any write): does AWS run it on this cluster? (data_api_support). A
    cluster whose Data API is already on needs no check: AWS has accepted it."""
    writer_class = None
    if cluster.writer is not None:
        try:
            found = aws.client(Account.PROVIDER, "rds").describe_db_instances(DBInstanceIdentifier=cluster.writer)
            writer_class = (found.get("DBInstances") or [{}])[0].get("DBInstanceClass")
        except ClientError:  # may not read the writer: judge by engine and version alone (doctor names the class)
            writer_class = None
    v = data_api_support.verdict(cluster.engine, cluster.engine_version, cluster.engine_mode, writer_class)
    if v.supported is False:
        raise UsageError(f"Not turning the Data API on for cluster {cluster.id}: {v.why}.", v.fix)


def _exists_in_consumer(aws: Sessions, cfg: Config) -> bool:
    try:
        aws.client(Account.CONSUMER, "rds").describe_db_clusters(DBClusterIdentifier=cfg.cluster_id)
        return True
    except ClientError:
        return False


def describe_network(aws: Sessions, cfg: Config, consumer_account: Callable[[], str],
                     subnets: Callable[[], dict[str, dict]]) -> list[str]:
    """The VPC's associated IPv4 CIDR blocks, primary first, after checking the subnets and DNS attributes. The reads
    run at once (`subnets` is the subnets by id, read once for this and check_endpoint_service); their problems are
    reported in the order a one-by-one check meets them."""
    ec2 = aws.client(Account.CONSUMER, "ec2")
    profile = f" --profile {aws.consumer_profile}" if aws.consumer_profile else ""
    attributes = ("enableDnsSupport", "enableDnsHostnames")
    vpc_r, *attribute_r = gather(
        lambda: ec2.describe_vpcs(VpcIds=[cfg.vpc_id])["Vpcs"][0],
        *(lambda a=a: ec2.describe_vpc_attribute(VpcId=cfg.vpc_id, Attribute=a) for a in attributes))
    try:
        vpc = unwrap(vpc_r)
    except ClientError as exc:
        if is_not_found(exc):
            raise UsageError(
                f"--vpc {cfg.vpc_id}: no such VPC in consumer account {consumer_account()}, region {aws.region}.",
                "Pass a VPC of the consumer account (`aws ec2 describe-vpcs --profile CONSUMER_PROFILE`).",
            ) from None
        raise AwsError(f"Could not describe VPC {cfg.vpc_id}: {error_message(exc)}.") from None
    try:
        by_id = subnets()
    except ClientError as exc:
        raise AwsError(f"Could not describe subnets: {error_message(exc)}.") from None
    for sid in cfg.subnet_ids:
        if sid not in by_id:
            raise UsageError(f"--subnets: {sid} does not exist in consumer account {consumer_account()}, region {aws.region}.",
                             f"List subnets of {cfg.vpc_id} with `aws ec2 describe-subnets --filters Name=vpc-id,Values={cfg.vpc_id}"
                             f" --region {aws.region}{profile}`.")
        if by_id[sid]["VpcId"] != cfg.vpc_id:
            raise UsageError(f"--subnets: {sid} is in {by_id[sid]['VpcId']}, not in --vpc {cfg.vpc_id}.",
                             f"Pass subnets of {cfg.vpc_id} only.")
    azs = [by_id[s]["AvailabilityZone"] for s in cfg.subnet_ids]
    if len(set(azs)) != len(azs):
        raise UsageError(f"--subnets {','.join(cfg.subnet_ids)} puts two subnets in one Availability Zone ({', '.join(azs)}).",
                         "An interface endpoint takes at most one subnet per AZ: pass one subnet per AZ.")
    for attr, key, flag, result in zip(attributes, ("EnableDnsSupport", "EnableDnsHostnames"),
                                       ("--enable-dns-support", "--enable-dns-hostnames"), attribute_r):
        value = _read(f"{attr} of {cfg.vpc_id}", lambda: unwrap(result))
        if not value.get(key, {}).get("Value"):
            raise UsageError(
                f"--vpc {cfg.vpc_id} has {attr} off; the endpoint's private DNS needs it on.",
                f"Turn it on: `aws ec2 modify-vpc-attribute --vpc-id {cfg.vpc_id} {flag} "
                f"'{{\"Value\":true}}' --region {aws.region}{profile}` (consumer account), then re-run.",
            )
    # Clients in a secondary CIDR block of the VPC are clients too (the endpoint's group and the NACL check admit all).
    secondary = [a["CidrBlock"] for a in vpc.get("CidrBlockAssociationSet", [])
                 if a.get("CidrBlockState", {}).get("State") == "associated" and a["CidrBlock"] != vpc["CidrBlock"]]
    return [vpc["CidrBlock"], *secondary]


def principal_identity(cfg: Config) -> tuple[str, str, bool]:
    """(kind, name, adopted) of the consumer principal, from the flags alone: "role"/"user", its name, and whether it
    is the application's own (--consumer-role / --consumer-user) rather than a user xacct makes."""
    if cfg.consumer_role:
        m = ROLE_ARN_RE.match(cfg.consumer_role)
        return "role", m.group(2) if m else cfg.consumer_role, True
    if cfg.consumer_user:
        return "user", cfg.consumer_user, True
    return "user", cfg.names.consumer_user, False


def describe_principal(aws: Sessions, cfg: Config, consumer_account: Callable[[], str], partition: str) -> ConsumerPrincipal:
    """`consumer_account` is asked for only after the IAM read, which runs at the same time as STS."""
    iam = aws.client(Account.CONSUMER, "iam")
    kind, name, _ = principal_identity(cfg)
    if cfg.consumer_role:
        m = ROLE_ARN_RE.match(cfg.consumer_role)
        try:
            role, error = iam.get_role(RoleName=name)["Role"], None
        except ClientError as exc:
            role, error = None, exc
        if m and m.group(1) != consumer_account():
            raise UsageError(f"--consumer-role {cfg.consumer_role} is in account {m.group(1)}, not the consumer account {consumer_account()}.",
                             "Pass a role of the consumer account.")
        if error is not None:
            if is_not_found(error):
                raise UsageError(f"--consumer-role {cfg.consumer_role!r}: no such role in consumer account {consumer_account()}.",
                                 "Pass the name or ARN of the role the application runs as, or omit it to have xacct create a user.") from None
            raise AwsError(f"Could not read role {name}: {error_message(error)}.") from None
        return ConsumerPrincipal("role", name, role["Arn"], adopted=True)
    if cfg.consumer_user:
        try:
            user = iam.get_user(UserName=cfg.consumer_user)["User"]
        except ClientError as exc:
            if is_not_found(exc):
                raise UsageError(f"--consumer-user {cfg.consumer_user!r}: no such user in consumer account {consumer_account()}.",
                                 "Pass an existing IAM user name, or omit it to have xacct create one.") from None
            raise AwsError(f"Could not read user {cfg.consumer_user}: {error_message(exc)}.") from None
        return ConsumerPrincipal("user", cfg.consumer_user, user["Arn"], adopted=True)
    return ConsumerPrincipal(kind, name, user_arn(consumer_account(), name, partition), adopted=False)


def check_endpoint_service(aws: Sessions, cfg: Config, subnets: Callable[[], dict[str, dict]]) -> None:
    """The rds-data endpoint service is offered in the region, in the subnets' AZs, takes a policy if a restricted one
    is asked for, and no private hosted zone in the VPC already holds its DNS name (doctor reads the same)."""

    service = f"com.amazonaws.{aws.region}.rds-data"
    detail_r, zones_r = gather(lambda: aws_reads.endpoint_service(aws, service),
                               lambda: aws_reads.private_hosted_zones(aws, cfg.vpc_id, aws.region))
    detail = _read(f"the {service} endpoint service", lambda: unwrap(detail_r))
    if detail is None:
        raise UsageError(f"Region {aws.region} offers no {service} endpoint service.",
                         "Pass --region of a region where the RDS Data API supports PrivateLink.")
    # "The VPC endpoint service ... does not support the availability zone of the subnet"
    # (terraform-aws-modules/terraform-aws-vpc#462): AvailabilityZones of DescribeVpcEndpointServices.
    bad = aws_reads.unsupported_azs(detail, _read("the subnets", subnets))
    if bad:
        raise UsageError(f"--subnets: {', '.join(f'{sid} is in {az}' for sid, az in bad)}, where {service} is not offered "
                         f"(it is in {', '.join(sorted(detail.get('AvailabilityZones', [])))}).",
                         "Pass one subnet in each of the supported Availability Zones you want.")
    if cfg.endpoint_policy == "restricted" and detail.get("VpcEndpointPolicySupported") is False:
        raise UsageError(f"{service} does not support endpoint policies here, but --endpoint-policy restricted asks for one.",
                         "Pass --endpoint-policy full; the access role's own permissions still limit it to the cluster.")
    try:
        zones = aws_reads.conflicting_zones(unwrap(zones_r), aws.region)
    except ClientError:
        zones = []  # unreadable (no route53:ListHostedZonesByVPC): CreateVpcEndpoint reports a conflict itself
    if zones:
        z = zones[0]
        raise UsageError(
            f"VPC {cfg.vpc_id} is associated with private hosted zone {z['HostedZoneId']} ({z['Name'].rstrip('.')}): "
            "an endpoint with private DNS would conflict with it (\"conflicting DNS domain\").",
            "This VPC already reaches rds-data through a central endpoint: use that path, or disassociate the zone "
            f"(`aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id {z['HostedZoneId']} --vpc "
            f"VPCRegion={aws.region},VPCId={cfg.vpc_id}`) and re-run.")


def partition_for_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def endpoint_service_proven(cfg: Config, state: State, region: str) -> bool:
    """The state records this deployment's endpoint made in these very subnets of this VPC: AWS accepted them then, so
    the endpoint service is offered there and no private hosted zone took its DNS name. A re-run or status need not
    ask again (doctor does)."""
    recorded = state.config or {}
    return (state.find("vpc_endpoint") is not None and state.region == region and recorded.get("vpc_id") == cfg.vpc_id
            and tuple(recorded.get("subnet_ids") or ()) == tuple(cfg.subnet_ids)
            and recorded.get("endpoint_policy") == cfg.endpoint_policy)


# The operator's IAM grants for preflight's reads (permissions.py assembles them with the resource types').
GRANTS: tuple[Grant, ...] = (
    # Preflight; polled while the Data API switches.
    Grant("ReadCluster", P, {"rds:DescribeDBClusters": FINDS}, (CLUSTER,)),
    Grant("ReadNetwork", C,
          {"ec2:DescribeVpcs": READS, "ec2:DescribeSubnets": READS,
           "ec2:DescribeVpcEndpointServices": READS, "ec2:DescribeSecurityGroups": FINDS,
           "ec2:DescribeVpcEndpoints": FINDS, "ec2:DescribeNetworkAcls": READS,
           "ec2:DescribeNetworkInterfaces": TEARDOWN}, ("*",),
          why_star="These EC2 Describe actions have no resource type: they are authorised on `*` "
                   "(DescribeVpcAttribute, which takes the VPC, has its own statement)."),
    # The one EC2 Describe action with a resource type: the VPC's DNS attributes (private DNS needs both on).
    Grant("ReadVpcDnsAttributes", C, {"ec2:DescribeVpcAttribute": READS}, ("arn:{p}:ec2:{region}:{consumer}:vpc/{vpc}",)),
    Grant("ReadPrivateHostedZones", C, {"route53:ListHostedZonesByVPC": READS}, ("*",),
          why_star="ListHostedZonesByVPC has no resource type (preflight and doctor: a private zone for rds-data "
                   "associated with the VPC takes the endpoint's DNS name)."),
)
