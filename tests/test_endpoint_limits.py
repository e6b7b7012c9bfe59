"""A shared endpoint at AWS's limits (docs/reliability.md, "The shared endpoint"; docs/how-it-works.md, "Many
deployments in one VPC"). The endpoint policy has one statement per cluster, so it is full at about 38 clusters of the
longest ids, whatever the number of deployments; one more cluster would need a policy over 20,480 characters. xacct
refuses it before changing anything, naming the limit and the fix; the sandbox would refuse the call itself
(sandbox/limits.py), so this is what a user meets on AWS too. The members' client CIDRs are the endpoint group's
rules: a join whose CIDRs would, with the others', admit the whole internet is refused like 0.0.0.0/0."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.helpers.inventory import live_endpoints
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import grant, world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli
from xacct_dataapi.config import TAG_DEPLOYMENT, TAG_MANAGED, Names
from xacct_dataapi.steps.endpoint_members import (
    POLICY_MAX, MemberFacts, facts_tags, policy_for, policy_text, read,
)
from xacct_dataapi.steps.endpoint_rules import rules_of

pytestmark = pytest.mark.usefixtures("fast_aws")
LONG_CLUSTER = "c" * 63  # RDS: a cluster identifier has at most 63 characters


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def fill(world, clusters: list[str]) -> dict:
    """The endpoint of the first deployment, with one member per cluster in `clusters` (other deployments' groups
    and facts) and the policy they derive, as if they had joined."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="alpha")).exit_code == 0
    (ep,) = live_endpoints(world.consumer, world.vpc_id)
    ec2, ep_id = world.consumer.client("ec2"), ep["VpcEndpointId"]
    for i, cluster in enumerate(clusters):
        names = Names(f"m{i:02d}")
        tags = [{"Key": TAG_DEPLOYMENT, "Value": names.deployment}, {"Key": TAG_MANAGED, "Value": "xacct"},
                *facts_tags(ep_id, cluster, ["10.0.0.0/16"])]
        ec2.create_security_group(GroupName=names.security_group, VpcId=world.vpc_id, Description="member",
                                  TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}])
    members = read(ec2, ep_id)[1]
    assert len(members) == len(clusters) + 1
    ec2.modify_vpc_endpoint(VpcEndpointId=ep_id, PolicyDocument=policy_text(policy_for(members)))
    return ec2.describe_vpc_endpoints(VpcEndpointIds=[ep_id])["VpcEndpoints"][0]


def long_cluster(world) -> str:
    arn = world.provider.client("rds").create_db_cluster(
        DBClusterIdentifier=LONG_CLUSTER, Engine="aurora-postgresql", EngineVersion="11.13", EngineMode="serverless",
        MasterUsername="postgres", MasterUserPassword="seed-password-3", EnableHttpEndpoint=True)["DBCluster"]["DBClusterArn"]
    grant(world, clusters=(world.cluster_id, LONG_CLUSTER))  # the administrator's `xacct permissions --cluster` for it
    return arn


def test_the_policy_of_500_members_on_one_cluster_is_one_statement():
    arn = f"arn:aws:rds:ap-southeast-5:123456789012:cluster:{LONG_CLUSTER}"
    sizes = {n: len(policy_text(policy_for({f"d{i}": MemberFacts(arn) for i in range(n)}))) for n in (1, 50, 500)}
    assert sizes[1] == sizes[50] == sizes[500] < 600, sizes


def test_a_join_that_would_pass_the_20480_character_policy_is_refused_before_any_change(world, password):
    cluster_arn = long_cluster(world)
    fakes = [cluster_arn[:-4] + f"{i:04d}" for i in range(37)]  # 37 more clusters of 63-character ids
    before = fill(world, fakes)
    assert len(json.loads(before["PolicyDocument"])["Statement"]) == 38
    assert len(before["PolicyDocument"]) <= POLICY_MAX
    newcomer = f"{'y' * 28}0000"  # a 32-character name: the longest xacct allows
    args = world.setup_args("--yes", name=newcomer)
    args[args.index("--cluster") + 1] = LONG_CLUSTER
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "20480" in text and "--endpoint-policy full" in text and "another VPC" in text
    (after,) = live_endpoints(world.consumer, world.vpc_id)
    assert after["PolicyDocument"] == before["PolicyDocument"]
    assert newcomer not in read(world.consumer.client("ec2"), after["VpcEndpointId"])[1]
    roles = {r["RoleName"] for r in world.provider.client("iam").list_roles()["Roles"]}
    assert Names(newcomer).access_role not in roles and Names("alpha").access_role in roles  # refused at planning


def group_rules(world, group_id: str) -> tuple[set, set]:
    (sg,) = world.consumer.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return ({r[3] for r in rules_of(sg["IpPermissions"])}, {r[3] for r in rules_of(sg["IpPermissionsEgress"])})


def test_a_joiners_client_cidr_is_in_the_shared_group_until_the_last_member_that_asked_for_it_leaves(world, password):
    """Issue 24: bravo's --client-cidr reaches the endpoint's group (was: only the NACL check used it); charlie asks
    for the same range; it goes only when both have left. The rules are read from AWS, in and out."""
    vpc_cidr = world.consumer.client("ec2").describe_vpcs(VpcIds=[world.vpc_id])["Vpcs"][0]["CidrBlock"]
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="alpha")).exit_code == 0
    (ep,) = live_endpoints(world.consumer, world.vpc_id)
    group = ep["Groups"][0]["GroupId"]
    assert group_rules(world, group) == ({vpc_cidr}, {vpc_cidr})
    for name in ("bravo", "charlie"):
        res = invoke(world.setup_args("--yes", "--client-cidr", "192.168.0.0/24", name=name))
        assert res.exit_code == 0, res.output
        assert group_rules(world, group) == ({vpc_cidr, "192.168.0.0/24"},) * 2
        assert invoke(["status", "--name", name]).exit_code == 0
    assert invoke(["teardown", "--name", "bravo", "--yes"]).exit_code == 0
    assert group_rules(world, group) == ({vpc_cidr, "192.168.0.0/24"},) * 2  # charlie still asks for it
    assert invoke(["teardown", "--name", "charlie", "--yes"]).exit_code == 0
    assert group_rules(world, group) == ({vpc_cidr}, {vpc_cidr})
    assert invoke(["status", "--name", "alpha"]).exit_code == 0


def test_cidrs_of_two_members_that_together_admit_the_whole_internet_are_refused(world, password):
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--client-cidr", "0.0.0.0/1", name="alpha"))
    assert res.exit_code == 0, res.output
    (ep,) = live_endpoints(world.consumer, world.vpc_id)
    before = group_rules(world, ep["Groups"][0]["GroupId"])
    res = CliRunner().invoke(cli, world.setup_args("--yes", "--client-cidr", "128.0.0.0/1", name="bravo"))
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "128.0.0.0/1" in text and "whole internet" in text and "0.0.0.0/0" in text
    assert group_rules(world, ep["Groups"][0]["GroupId"]) == before and "0.0.0.0/1" in before[0]
    assert "bravo" not in read(world.consumer.client("ec2"), ep["VpcEndpointId"])[1]
