"""Every name and tag xacct makes stays within AWS's limits for the longest inputs AWS and xacct allow (issue 27): a
32-character deployment name, a 63-character cluster id, the longest region code (us-isof-south-1, 15 characters,
partition aws-iso-f), a 12-digit account, and client CIDRs up to what the member tag holds. The limits are the
sandbox's (sandbox/limits.py, each sourced in docs/aws-facts.md); then a setup at the maximum passes the sandbox's
own checks of the same rules, and its teardown leaves nothing."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.helpers.inventory import live_endpoints
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import grant, world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi import policies
from xacct_dataapi.cli import cli
from xacct_dataapi.config import CLUSTER_ARN_RE, NAME_RE, REGION_RE, Names
from xacct_dataapi.sandbox import limits
from xacct_dataapi.steps.data_api import CLOSING_TAG as DATA_API_CLOSING
from xacct_dataapi.steps.endpoint_members import (
    CLOSING_TAG, LEGACY_MEMBER_TAG, POLICY_MAX, MemberFacts, facts_tags, policy_for, policy_text, read,
)

NAME = "n" * 31 + "9"  # NAME_RE: 1-32 letters, digits, '-', starting and ending with a letter or digit
CLUSTER_ID = "c" * 62 + "9"  # RDS: 1-63 letters, digits, hyphens, starting with a letter
REGION, PARTITION, ACCOUNT = "us-isof-south-1", "aws-iso-f", "123456789012"
CLUSTER_ARN = f"arn:{PARTITION}:rds:{REGION}:{ACCOUNT}:cluster:{CLUSTER_ID}"
ENDPOINT_ID = "vpce-" + "0" * 17
# Secrets Manager: a secret name is at most 512 characters; EC2: a security group name at most 255.
SECRET_NAME_MAX, GROUP_NAME_MAX, ROLE_ARN_MAX = 512, 255, 2048


def test_the_inputs_are_the_longest_allowed():
    assert NAME_RE.match(NAME) and not NAME_RE.match(NAME + "x")
    assert CLUSTER_ARN_RE.match(CLUSTER_ARN) and not CLUSTER_ARN_RE.match(CLUSTER_ARN + "x")
    assert REGION_RE.match(REGION)


def test_every_name_fits():
    n = Names(NAME)
    path = Names.access_role_path(CLUSTER_ID, REGION)
    role = policies.role_arn(ACCOUNT, n.access_role, PARTITION, path)
    sizes = {"access role": (n.access_role, limits.IAM_ROLE_NAME_MAX),
             "consumer user": (n.consumer_user, limits.IAM_USER_NAME_MAX),
             "access role policy": (n.access_role_policy, limits.IAM_POLICY_NAME_MAX),
             "consumer policy": (n.consumer_policy, limits.IAM_POLICY_NAME_MAX),
             "role path": (path, limits.IAM_PATH_MAX), "role ARN": (role, ROLE_ARN_MAX),
             "key alias": (n.key_alias, limits.KMS_ALIAS_MAX), "secret": (n.secret, SECRET_NAME_MAX),
             "security group": (n.security_group, GROUP_NAME_MAX)}
    over = {what: (len(value), most) for what, (value, most) in sizes.items() if len(value) > most}
    assert not over, over


def test_every_tag_fits():
    n = Names(NAME)
    cidrs: list[str] = []
    while len(",".join([*cidrs, "172.16.100.128/25"])) <= 256:  # as many of the longest as the member tag holds
        cidrs.append("172.16.100.128/25")
    ec2_tags = {**n.tags(), "Name": n.endpoint, **{t["Key"]: t["Value"] for t in facts_tags(ENDPOINT_ID, CLUSTER_ARN, cidrs)},
                CLOSING_TAG + NAME: "1", LEGACY_MEMBER_TAG + NAME: CLUSTER_ARN, DATA_API_CLOSING + NAME: "1"}
    limits.check_ec2_tags([{"Key": k, "Value": v} for k, v in ec2_tags.items()])  # raises AWS's error if over
    with pytest.raises(Exception, match="longer together than an EC2 tag value"):
        facts_tags(ENDPOINT_ID, CLUSTER_ARN, cidrs + ["10.9.0.0/16"])


def test_the_endpoint_policy_of_500_members_fits_and_does_not_grow():
    sizes = {count: len(policy_text(policy_for({f"d{i}": MemberFacts(CLUSTER_ARN) for i in range(count)})))
             for count in (1, 50, 500)}
    assert sizes[1] == sizes[50] == sizes[500] <= POLICY_MAX, sizes


@pytest.mark.usefixtures("fast_aws")
def test_a_setup_at_the_maximum_passes_the_sandboxs_limits_and_tears_down(world, password):
    rds = world.provider.client("rds")
    rds.create_db_cluster(DBClusterIdentifier=CLUSTER_ID, Engine="aurora-postgresql", EngineVersion="11.13",
                          EngineMode="serverless", MasterUsername="postgres", MasterUserPassword="seed-password-3",
                          EnableHttpEndpoint=True)
    grant(world, clusters=(CLUSTER_ID,))  # the administrator's `xacct permissions --cluster` for it
    args = world.setup_args("--yes", "--client-cidr", "192.168.0.0/24", name=NAME)
    args[args.index("--cluster") + 1] = CLUSTER_ID
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    (ep,) = live_endpoints(world.consumer, world.vpc_id)
    member = read(world.consumer.client("ec2"), ep["VpcEndpointId"])[1][NAME]
    assert member.cluster_arn.endswith(CLUSTER_ID) and "192.168.0.0/24" in member.cidrs
    assert CliRunner().invoke(cli, ["status", "--name", NAME]).exit_code == 0
    assert CliRunner().invoke(cli, ["teardown", "--name", NAME, "--yes"]).exit_code == 0
    assert live_endpoints(world.consumer, world.vpc_id) == []
