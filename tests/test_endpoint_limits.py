"""A shared endpoint at AWS's limits (docs/reliability.md, "The shared endpoint"): one more deployment would need an
endpoint policy over 20,480 characters, or a 51st tag. xacct refuses it before changing anything, naming the limit
and the fix; the sandbox would refuse the call itself (sandbox/limits.py), so this is what a user meets on AWS too."""
from __future__ import annotations


import pytest
from typer.testing import CliRunner

from tests.helpers.inventory import live_endpoints
from xacct_dataapi.cli import cli
from xacct_dataapi.config import Names
from xacct_dataapi.steps.endpoint_members import MEMBER_TAG, POLICY_MAX, policy_for, policy_text, role_of

pytestmark = pytest.mark.usefixtures("fast_aws")
LONG_CLUSTER = "c" * 63  # RDS: a cluster identifier has at most 63 characters


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def fill(world, cluster_arn: str, names: list[str]) -> dict:
    """The endpoint of the first deployment, with member tags of `names` (other deployments' facts) and the policy
    they derive, as if they had joined."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="alpha")).exit_code == 0
    (ep,) = live_endpoints(world.consumer, world.vpc_id)
    ec2 = world.consumer.client("ec2")
    ec2.create_tags(Resources=[ep["VpcEndpointId"]], Tags=[{"Key": MEMBER_TAG + n, "Value": cluster_arn} for n in names])
    members = {n: (role_of(n, cluster_arn), cluster_arn) for n in names}
    members["alpha"] = (role_of("alpha", world.cluster_arn), world.cluster_arn)
    ec2.modify_vpc_endpoint(VpcEndpointId=ep["VpcEndpointId"], PolicyDocument=policy_text(policy_for(members)))
    return ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["VpcEndpoints"][0]


def long_cluster(world) -> str:
    return world.provider.client("rds").create_db_cluster(
        DBClusterIdentifier=LONG_CLUSTER, Engine="aurora-postgresql", EngineVersion="11.13", EngineMode="serverless",
        MasterUsername="postgres", MasterUserPassword="seed-password-3", EnableHttpEndpoint=True)["DBCluster"]["DBClusterArn"]


def test_a_join_that_would_pass_the_20480_character_policy_is_refused_before_any_change(world, password):
    cluster_arn = long_cluster(world)
    names = [f"{'x' * 28}{i:04d}" for i in range(35)]  # 32-character names: the longest xacct allows
    before = fill(world, cluster_arn, names)
    assert len(before["PolicyDocument"]) <= POLICY_MAX
    newcomer = f"{'y' * 28}0000"
    args = world.setup_args("--yes", name=newcomer)
    args[args.index("--cluster") + 1] = LONG_CLUSTER
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "20480" in text and "--endpoint-policy full" in text and "another VPC" in text
    (after,) = live_endpoints(world.consumer, world.vpc_id)
    assert after["PolicyDocument"] == before["PolicyDocument"]
    assert MEMBER_TAG + newcomer not in {t["Key"] for t in after["Tags"]}
    roles = {r["RoleName"] for r in world.provider.client("iam").list_roles()["Roles"]}
    assert Names(newcomer).access_role not in roles and Names("alpha").access_role in roles  # refused at planning


def test_a_join_that_would_need_a_51st_tag_is_refused_before_any_change(world, password):
    names = [f"m{i:02d}" for i in range(46)]  # alpha's 3 tags + its member tag + 46 = 50
    before = fill(world, world.cluster_arn, names)
    assert len(before["Tags"]) == 50 and len(before["PolicyDocument"]) <= POLICY_MAX
    res = CliRunner().invoke(cli, world.setup_args("--yes", name="newcomer"))
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "51 tags" in text and "AWS allows 50" in text
    (after,) = live_endpoints(world.consumer, world.vpc_id)
    assert len(after["Tags"]) == 50 and after["PolicyDocument"] == before["PolicyDocument"]
