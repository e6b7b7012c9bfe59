"""What a first-time operator tripped over (issue "a new user's day"), each reproduced as the trial did it."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.accounts import STATE
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def without_consumer_profile(args: list[str]) -> list[str]:
    i = args.index("--consumer-profile")
    return args[:i] + args[i + 2:]


def test_the_recorded_consumer_profile_beats_an_ambient_aws_profile(world, password, monkeypatch):
    """The AWS_PROFILE trap: setup ran with the consumer's credentials from AWS_PROFILE; later the operator
    `eval`s `connect --format env` (AWS_PROFILE=xacct-NAME, whose role lives in the provider account) and re-runs
    `setup --name NAME`: the re-run must use the recorded consumer profile, not the ambient one."""
    monkeypatch.setenv("AWS_PROFILE", "consumer")
    res = invoke(without_consumer_profile(world.setup_args("--enable-data-api", "--yes")))
    assert res.exit_code == 0, res.output
    assert json.loads(Path(STATE).read_text())["profiles"]["consumer"] == "consumer"

    monkeypatch.setenv("AWS_PROFILE", "provider")  # a profile in the other account, as xacct-NAME would be
    res = invoke(["setup", "--name", "default", "--yes"])
    assert res.exit_code == 0, res.output
    res = invoke(["status", "--name", "default", "--output", "json"])
    assert res.exit_code == 0, res.output

    res = invoke(["setup", "--name", "default", "--consumer-profile", "provider", "--yes"])  # a flag still wins
    assert res.exit_code == 2 and "both" in " ".join(res.output.split())


@pytest.mark.parametrize("command", [["status"], ["doctor"], ["connect"], ["verify"], ["export", "--out", "x"],
                                     ["teardown", "--yes"]])
def test_a_command_without_name_names_the_deployments_that_exist(world, password, command):
    """Only `orders` exists; a command without --name looks for `default` and says which ones there are."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    res = CliRunner().invoke(cli, command)
    text = " ".join(res.output.split())
    if command[0] == "teardown":  # nothing to tear down is not an error; it still names what exists
        assert res.exit_code == 0 and "orders" in text, text
    else:
        assert res.exit_code == 2, text
        assert "default.json" in text and "Deployments there: orders. Pass --name orders (the only one)." in text


def test_permissions_for_a_recorded_deployment_fill_every_placeholder(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    for side in ("provider", "consumer"):
        res = invoke(["permissions", "--side", side, "--name", "orders", "--output", "json"])
        assert res.exit_code == 0, res.output
        text = res.stdout
        for placeholder in ("REGION", "PROVIDER", "CONSUMER", "CLUSTER_ID", "VPC_ID"):
            assert placeholder not in text, (side, placeholder)
        assert "us-west-2" in text
    res = invoke(["permissions", "--side", "consumer", "--name", "orders", "--vpc", "vpc-0123456789abcdef0",
                  "--output", "json"])
    assert "vpc-0123456789abcdef0" in res.stdout and world.vpc_id not in res.stdout  # a flag still wins


def test_teardown_removes_only_the_profile_connect_wrote_for_it(world, password):
    config = Path(os.environ["AWS_CONFIG_FILE"])  # the test's own config, with the accounts' profiles
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="billing")).exit_code == 0
    for name in ("orders", "billing"):
        res = invoke(["connect", "--name", name, "--format", "profile", "--source-profile", "consumer", "--write"])
        assert res.exit_code == 0, res.output
    before = config.read_text()
    assert "[profile xacct-orders]" in before and "[profile xacct-billing]" in before

    res = invoke(["teardown", "--name", "orders", "--yes"])
    assert res.exit_code == 0, res.output
    after = config.read_text()
    assert "[profile xacct-orders]" not in after and "[profile xacct-billing]" in after
    assert "[profile consumer]" in after and "Removed [profile xacct-orders]" in " ".join(res.output.split())


def test_list_counts_a_shared_endpoint_once(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="billing")).exit_code == 0
    res = invoke(["list", "--output", "json"])
    by_name = {d["name"]: d for d in json.loads(res.stdout)}
    costs = sorted(d["monthly_cost"]["usd_per_month"] for d in by_name.values())
    assert costs == [1.40, 16.00], costs  # one endpoint (2 AZ × 730 h × $0.01) in all, plus a key and a secret each
    first, second = sorted(by_name.values(), key=lambda d: d["monthly_cost"]["usd_per_month"], reverse=True)
    assert first["endpoint_shared_with"] == [second["name"]]
    assert second["monthly_cost"]["endpoint_counted_with"] == first["name"]


def test_teardown_reports_what_it_kept_for_other_deployments(world, password):
    """Two deployments share the endpoint, its group and the cluster's Data API: the first one out reports each as kept,
    not as already gone (they all still exist, for the other deployment)."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="billing")).exit_code == 0
    res = invoke(["teardown", "--name", "billing", "--yes", "--output", "json"])
    assert res.exit_code == 0, res.output
    outcome = {r["kind"]: r["outcome"] for r in json.loads(res.stdout)["result"]["removed"]}
    assert {outcome[k] for k in ("vpc_endpoint", "security_group", "data_api")} == {"kept for other deployments"}
    assert outcome["iam_role"] == outcome["secret"] == "deleted"
