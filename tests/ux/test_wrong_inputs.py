"""A new user's trial of mistyped inputs: each is told what was looked for, where, and what exists instead."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

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
