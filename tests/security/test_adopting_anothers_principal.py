"""--consumer-user / --consumer-role adopt the application's own principal: xacct adds one inline policy to it. A
principal AWS shows as another xacct deployment's (tagged `xacct:deployment=billing`) is no application's to adopt:
orders would write into billing's user, and billing's teardown (which deletes its user with every inline policy)
would then take orders' policy with it. Refused, naming the principal and its deployment; nothing written."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import grant, world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli
from xacct_dataapi.config import Names

pytestmark = pytest.mark.usefixtures("fast_aws")


def test_another_deployments_user_is_not_adopted(world, password):
    res = CliRunner().invoke(cli, world.setup_args("--enable-data-api", "--yes", name="billing"))
    assert res.exit_code == 0, res.output
    theirs = Names("billing").consumer_user
    iam = world.consumer.client("iam")
    before = iam.list_user_policies(UserName=theirs)["PolicyNames"]
    grant(world, consumer_user=theirs)  # `xacct permissions --consumer-user xacct-billing-data-api-client`

    res = CliRunner().invoke(cli, world.setup_args("--yes", "--consumer-user", theirs, name="orders"))

    assert iam.list_user_policies(UserName=theirs)["PolicyNames"] == before, res.output
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert theirs in text and "billing" in text and "--consumer-user" in text, res.output
