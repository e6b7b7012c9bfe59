"""The two-account world most moto tests run in: a VPC with two subnets (consumer) and an Aurora cluster (provider)."""
from __future__ import annotations

import json
from dataclasses import dataclass

import boto3

from tests.helpers.accounts import CONSUMER, PROVIDER


@dataclass
class World:
    consumer: boto3.Session
    provider: boto3.Session
    vpc_id: str
    vpc_cidr: str
    subnet_ids: tuple[str, ...]
    cluster_id: str
    cluster_arn: str

    def setup_args(self, *extra: str, name: str = "default") -> list[str]:
        return ["setup", "--consumer-profile", "consumer", "--provider-profile", "provider", "--cluster", self.cluster_id,
                "--vpc", self.vpc_id, "--subnets", ",".join(self.subnet_ids), "--name", name, *extra]

    def second_vpc(self) -> tuple[str, tuple[str, ...]]:
        """Another VPC of the consumer account, ready for an endpoint (DNS support and hostnames on), two subnets."""
        ec2 = self.consumer.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnets = tuple(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"us-west-2{az}")
                        ["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b")))
        return vpc, subnets

    def args_in(self, args: list[str], vpc: str, subnets: tuple[str, ...]) -> list[str]:
        """The same setup arguments, in another VPC."""
        args = list(args)
        args[args.index("--vpc") + 1] = vpc
        args[args.index("--subnets") + 1] = ",".join(subnets)
        return args


def open_sessions() -> tuple[boto3.Session, boto3.Session]:
    """The consumer and provider sessions (profiles from tests.helpers.profiles), checked to be in the right account."""
    consumer = boto3.Session(profile_name="consumer")
    provider = boto3.Session(profile_name="provider")
    assert consumer.client("sts").get_caller_identity()["Account"] == CONSUMER
    assert provider.client("sts").get_caller_identity()["Account"] == PROVIDER
    return consumer, provider


def seed(consumer: boto3.Session, provider: boto3.Session, *, data_api_on: bool = False) -> World:
    ec2 = consumer.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-west-2{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    )
    rds = provider.client("rds")
    c = rds.create_db_cluster(DBClusterIdentifier="orders-aurora", Engine="aurora-postgresql", EngineVersion="11.13",
                              EngineMode="serverless", MasterUsername="postgres", MasterUserPassword="seed-password-1",
                              DatabaseName="orders", EnableHttpEndpoint=data_api_on)["DBCluster"]
    return World(consumer, provider, vpc, "10.20.0.0/16", subnets, c["DBClusterIdentifier"], c["DBClusterArn"])


def aws_managed_policy(name: str = "AdministratorAccess", account: str = PROVIDER) -> str:
    """One AWS managed policy in the provider account, from moto's copy of AWS's own data: moto loads all ~1,000 only
    with MOTO_IAM_LOAD_MANAGED_POLICIES, too slow for one test."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, iam_backends

    policy = AWSManagedPolicy.from_data(name, account, "us-east-1", json.loads(aws_managed_policies_data)[name])
    iam_backends[account]["aws"].managed_policies[policy.arn] = policy
    return policy.arn
