"""A new user's trial of mistyped inputs: each is told what was looked for, where, and what exists instead."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.accounts import PROVIDER
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def flat(text: str) -> str:
    return " ".join(text.split())


def roles(world) -> list[str]:
    return sorted(r["RoleName"] for r in world.provider.client("iam").list_roles()["Roles"])


def test_teardown_of_a_mistyped_name_says_there_is_no_such_deployment(world, password):
    """`teardown --name typo` exited 0 ("Nothing to tear down"): a script, or a hurried operator, took that for done."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    recorded, before = Path(".xacct/orders.json").read_text(), roles(world)

    res = invoke(["teardown", "--name", "typo", "--yes"])
    text = flat(res.output)
    assert res.exit_code == 2, text
    assert f"No deployment named 'typo': no state file typo.json in the state folder {Path.cwd() / '.xacct'}" in text
    assert "Deployments there: orders. Pass --name orders (the only one). `xacct list` lists them." in text
    assert "pass --consumer-profile and --provider-profile to find them by tag" in text

    # With both profiles xacct looks in AWS too (lost-state discovery), finds nothing tagged `typo`, and says where.
    res = invoke(["teardown", "--name", "typo", "--consumer-profile", "consumer", "--provider-profile", "provider",
                  "--yes", "--output", "json"])
    assert res.exit_code == 2, res.output
    error = json.loads(res.stderr)["error"]
    assert error["kind"] == "NoDeployment"
    assert "AWS shows nothing tagged xacct:deployment=typo in consumer" in error["message"]
    assert "region us-west-2" in error["message"] and "orders" in error["hint"]
    assert res.stdout == ""

    # Nothing was touched: orders' state and its resources are as they were, and no file was left for `typo`.
    assert Path(".xacct/orders.json").read_text() == recorded and roles(world) == before
    assert sorted(p.name for p in Path(".xacct").iterdir() if p.name.startswith("typo")) == []


def test_a_wrong_region_is_told_apart_from_a_wrong_cluster_id(world, password, monkeypatch):
    """`setup --region us-east-1` for a cluster in us-west-2 said to check the cluster id. The operator policy
    (`xacct permissions`) grants DescribeDBClusters on the cluster's ARN in its own region only: the read in the wrong
    region is refused, the same read in the profile's region (the one the operator may have meant) is allowed."""
    res = invoke(world.setup_args("--enable-data-api", "--region", "us-east-1", "--yes"))
    text = flat(res.output)
    assert res.exit_code == 2, text
    assert (f"--cluster '{world.cluster_id}' is not in region us-east-1, where xacct looked: provider account "
            f"{PROVIDER} has it in us-west-2 (the region of profile provider)." in text), text
    assert "Pass --region us-west-2." in text and "else in AWS_REGION, else in AWS_DEFAULT_REGION, else in the provider profile's region" in text
    assert not Path(".xacct/default.json").exists() and roles(world) == []  # nothing made, in either region

    # The AWS CLI's order, which xacct follows though boto3 alone skips AWS_REGION: --region, AWS_REGION,
    # AWS_DEFAULT_REGION, the profile's.
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    res = invoke(world.setup_args("--enable-data-api", "--region", "eu-west-1", "--yes"))
    assert res.exit_code == 2 and "has it in us-west-2 (AWS_REGION)" in flat(res.output), flat(res.output)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")  # AWS_REGION comes first
    res = invoke(world.setup_args("--enable-data-api", "--yes"))
    text = flat(res.output)
    assert res.exit_code == 2 and "is not in region eu-west-1" in text and "(AWS_DEFAULT_REGION)" in text, text
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")

    # A mistyped id in the right region: no region has it, so the id is the suspect (and the region is named).
    args = world.setup_args("--enable-data-api", "--yes")
    args[args.index("--cluster") + 1] = "typo-cluster"
    res = invoke(args)
    text = flat(res.output)
    assert res.exit_code == 1 and "is not in region" not in text, text  # refused (one cluster granted), not missing
    assert f"Could not describe cluster 'typo-cluster' in provider account {PROVIDER}, region us-west-2" in text
    assert "another id or region is refused, not reported missing" in text
    # The same typo in a wrong region: both are named as suspects.
    res = invoke([*args[:-1], "--region", "us-east-1", "--yes"])
    text = flat(res.output)
    assert res.exit_code == 1 and "region us-east-1" in text and "Check the identifier and the region" in text, text
