"""A state file is untrusted input: a row of a shape xacct never writes is refused by name (exit 2 when the file is
read, or left alone by teardown's screen), never met as an internal error (exit 70) halfway through a command."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from tests.security.test_teardown_ownership import assert_orders_gone
from xacct_dataapi.cli import cli
from xacct_dataapi.config import Names

pytestmark = pytest.mark.usefixtures("fast_aws")

ORDERS = Path(".xacct/orders.json")


def invoke(args):
    return CliRunner().invoke(cli, args)


@pytest.fixture
def orders(world, password):
    res = CliRunner().invoke(cli, world.setup_args("--enable-data-api", "--yes", name="orders"))
    assert res.exit_code == 0, res.output
    return world


def edit(change) -> str:
    state = json.loads(ORDERS.read_text())
    change(state)
    ORDERS.write_text(json.dumps(state))
    return ORDERS.read_text()


SHAPES = {
    "id-a-list": (lambda s: s["resources"].append({"step": 1, "kind": "kms_alias", "id": ["alias/x"],
                                                   "account": "provider"}), "id ['alias/x']"),
    "values-a-string": (lambda s: s.__setitem__("values", "zz"), "'values' is str"),
    "account-neither-side": (lambda s: s["resources"][0].__setitem__("account", "mars"), "account 'mars'"),
}


# Every command reads the file through state.load: status for each shape, teardown (which deletes) for one.
@pytest.mark.parametrize("shape, command", [(shape, ["status", "--name", "orders"]) for shape in SHAPES] + [
    ("id-a-list", ["teardown", "--name", "orders", "--yes"])])
def test_a_row_of_another_shape_is_refused_when_the_file_is_read(orders, shape, command):
    change, named = SHAPES[shape]
    text = edit(change)
    res = invoke(command)
    assert res.exit_code == 2, res.output
    flat = " ".join(res.output.split())  # errors wrap at spaces
    assert "not a valid xacct state file" in flat and named in flat, res.output
    assert ORDERS.read_text() == text  # left untouched
    assert orders.provider.client("iam").get_role(RoleName=Names("orders").access_role)  # nothing deleted


def test_teardown_leaves_a_row_of_a_kind_no_step_records_and_tears_down_the_rest(orders):
    edit(lambda s: s["resources"].append({"step": 1, "kind": "bogus", "id": "thing-1", "account": "provider"}))
    res = invoke(["teardown", "--name", "orders", "--yes"])
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert "bogus thing-1 (no step of this xacct records a 'bogus')" in text and "Internal error" not in text
    assert_orders_gone(orders)


def test_an_inline_policy_row_without_its_principal_is_no_policy(orders):
    """`<principal>/<policy>` is the only id xacct writes for an inline policy; `noslash` names none: status shows it
    missing and teardown deletes nothing for it (its guard finds nothing), and both finish."""
    edit(lambda s: s["resources"].append({"step": 5, "kind": "iam_role_policy", "id": "noslash",
                                          "account": "provider"}))
    status = invoke(["status", "--name", "orders"])
    assert status.exit_code in (0, 1) and "Internal error" not in status.output, status.output
    res = invoke(["teardown", "--name", "orders", "--yes"])
    assert res.exit_code == 0 and "Internal error" not in res.output, res.output
    assert_orders_gone(orders)
