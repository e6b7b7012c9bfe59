"""setup's preflight refuses (exit 2, nothing made) what doctor would fail on the endpoint: an AZ the rds-data
service does not offer, a restricted policy where endpoint policies are unsupported, a private hosted zone
for rds-data.<region>.amazonaws.com already associated with the VPC."""
from __future__ import annotations

from typer.testing import CliRunner

from xacct_dataapi.cli import cli

SERVICE = "com.amazonaws.us-west-2.rds-data"


def service(azs, policy_supported=True) -> dict:
    return {"ServiceNames": [SERVICE], "ServiceDetails": [{"ServiceName": SERVICE, "AvailabilityZones": azs,
                                                           "VpcEndpointPolicySupported": policy_supported}]}


def setup_fails(world, *extra) -> str:
    res = CliRunner().invoke(cli, world.setup_args("--enable-data-api", "--yes", *extra), catch_exceptions=False)
    assert res.exit_code == 2, res.output
    assert world.provider.client("iam").list_roles()["Roles"] == []  # nothing was made
    assert world.consumer.client("ec2").describe_vpc_endpoints()["VpcEndpoints"] == []
    return " ".join(res.output.split())


def test_subnet_in_unsupported_az(world, password, calls):
    calls.answers["DescribeVpcEndpointServices"] = service(["us-west-2a", "us-west-2c"])
    out = setup_fails(world)
    assert f"{world.subnet_ids[1]} is in us-west-2b" in out


def test_restricted_policy_where_unsupported(world, password, calls):
    calls.answers["DescribeVpcEndpointServices"] = service(["us-west-2a", "us-west-2b"], policy_supported=False)
    assert "--endpoint-policy full" in setup_fails(world)


def test_conflicting_private_hosted_zone(world, password):
    zone = world.consumer.client("route53").create_hosted_zone(
        Name="rds-data.us-west-2.amazonaws.com", CallerReference="central", HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "us-west-2", "VPCId": world.vpc_id})["HostedZone"]["Id"].split("/")[-1]
    out = setup_fails(world)
    assert zone in out and "disassociate-vpc-from-hosted-zone" in out
