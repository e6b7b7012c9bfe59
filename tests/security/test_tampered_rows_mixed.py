"""A state file is untrusted input, also when only half a row is edited (an adversarial review of the guards as data
and of verify's temporary keys): whatever a state file names, what xacct deletes is what AWS showed to be this
deployment's right before, by the very name the delete uses.

- a kms_key row whose `id` is another deployment's key and whose `arn` is still this deployment's: the guard read
  the key by its ARN (ours) while ScheduleKeyDeletion took the id (theirs);
- verify's record of its temporary keys naming another deployment's user (or this one's with a `since` long ago):
  verify deleted every key of that user, the application's included.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi import verify as verify_mod
from xacct_dataapi.cli import cli
from xacct_dataapi.config import Names

pytestmark = pytest.mark.usefixtures("fast_aws")

ORDERS, BILLING = Path(".xacct/orders.json"), Path(".xacct/billing.json")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def row(path: Path, kind: str) -> dict:
    return next(r for r in json.loads(path.read_text())["resources"] if r["kind"] == kind)


def edit(path: Path, change) -> None:
    state = json.loads(path.read_text())
    change(state)
    path.write_text(json.dumps(state))


def set_up(world, *names: str):
    for name in names:
        res = invoke(world.setup_args("--enable-data-api", "--yes", name=name))
        assert res.exit_code == 0, res.output
    return world


@pytest.fixture
def two(world, password):
    """Deployments `orders` and `billing`, set up side by side by the same operators."""
    return set_up(world, "orders", "billing")


@pytest.fixture
def orders(world, password):
    return set_up(world, "orders")


def key_state(world, key_id: str) -> str:
    return world.provider.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def test_a_key_row_naming_another_key_by_id_and_ours_by_arn_deletes_neither_theirs(two):
    theirs, ours = row(BILLING, "kms_key"), row(ORDERS, "kms_key")

    def half(state):  # the id edited, the arn left as it was
        next(r for r in state["resources"] if r["kind"] == "kms_key")["id"] = theirs["id"]

    edit(ORDERS, half)
    res = invoke(["teardown", "--name", "orders", "--yes"])

    assert key_state(two, theirs["id"]) == "Enabled", res.output  # billing's key is not scheduled for deletion
    assert res.exit_code == 1 and theirs["id"] in res.output, res.output
    # orders' own key still goes: teardown finds it by its tags (as for any tampered row), not on the row's word
    assert key_state(two, ours["id"]) == "PendingDeletion"
    status = invoke(["status", "--name", "billing", "--output", "json"])
    assert status.exit_code == 0, status.output


def test_a_key_row_naming_ours_by_id_and_another_by_arn_deletes_neither_theirs(two):
    theirs, ours = row(BILLING, "kms_key"), row(ORDERS, "kms_key")

    def half(state):
        next(r for r in state["resources"] if r["kind"] == "kms_key")["arn"] = theirs["arn"]

    edit(ORDERS, half)
    res = invoke(["teardown", "--name", "orders", "--yes"])

    assert key_state(two, theirs["id"]) == "Enabled", res.output
    assert res.exit_code == 1 and ours["id"] in res.output, res.output


def access_keys(world, user: str) -> list[str]:
    iam = world.consumer.client("iam")
    return [k["AccessKeyId"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]]


@pytest.mark.parametrize("entry", [
    pytest.param(lambda key: {"user": Names("billing").consumer_user, "since": "2000-01-01T00:00:00+00:00"},
                 id="their-user-since-long-ago"),
    pytest.param(lambda key: {"user": Names("billing").consumer_user, "since": "2000-01-01T00:00:00+00:00",
                              "id": key}, id="their-user-their-key-id"),
])
def test_verify_deletes_no_key_of_another_deployments_user(two, entry):
    """billing's application holds an access key of billing's user; orders' state is edited so that its record of
    temporary keys names that user. orders' verify must not delete the key (nor any key of that user)."""
    billing_user = Names("billing").consumer_user
    iam = two.consumer.client("iam")
    app_key = iam.create_access_key(UserName=billing_user)["AccessKey"]["AccessKeyId"]
    edit(ORDERS, lambda state: state["values"].__setitem__(verify_mod.TEMP_KEYS, [entry(app_key)]))

    res = invoke(["verify", "--name", "orders"])

    assert access_keys(two, billing_user) == [app_key], res.output
    assert res.exit_code == 0, res.output  # the bogus record is dropped; verify itself still proves the path
    assert json.loads(ORDERS.read_text())["values"].get(verify_mod.TEMP_KEYS) == []


def test_verify_deletes_no_key_of_its_own_user_made_long_before_the_record(orders):
    """A `since` long before any verify (edited, or a clock far off): the application's own key of orders' user, made
    outside xacct, is no temporary key of verify's and stays."""
    user = Names("orders").consumer_user
    app_key = orders.consumer.client("iam").create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    edit(ORDERS, lambda state: state["values"].__setitem__(
        verify_mod.TEMP_KEYS, [{"user": user, "since": "2000-01-01T00:00:00+00:00"}]))

    res = invoke(["verify", "--name", "orders"])

    assert res.exit_code == 0, res.output
    assert access_keys(orders, user) == [app_key]


@pytest.mark.parametrize("since", ["2000-01-01T00:00:00+00:00", "2999-01-01T00:00:00+00:00"])
def test_verify_keeps_a_recorded_key_id_of_its_own_user_not_made_in_the_window(orders, since):
    """The record names the id of the application's own key of orders' user, with a `since` the key was not made just
    after (an edited state): AWS does not show it as a key verify minted, so it stays, and verify says so. verify's
    own temporary key is still deleted after use."""
    user = Names("orders").consumer_user
    app_key = orders.consumer.client("iam").create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    edit(ORDERS, lambda state: state["values"].__setitem__(
        verify_mod.TEMP_KEYS, [{"user": user, "since": since, "id": app_key}]))

    res = invoke(["verify", "--name", "orders"])

    assert res.exit_code == 0, res.output
    assert access_keys(orders, user) == [app_key], res.output
    said = " ".join(res.output.split())
    assert f"Kept access key '{app_key}'" in said and "aws iam delete-access-key" in said
    assert json.loads(ORDERS.read_text())["values"].get(verify_mod.TEMP_KEYS) == []


@pytest.mark.parametrize("entries", [["not a record"], [{"user": Names("orders").consumer_user, "since": "yesterday"}],
                                     [{"since": "2026-12-07T08:00:00+00:00"}], "not a list"])
def test_verify_drops_a_malformed_record_of_temporary_keys(orders, entries):
    edit(ORDERS, lambda state: state["values"].__setitem__(verify_mod.TEMP_KEYS, entries))
    res = invoke(["verify", "--name", "orders"])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    assert json.loads(ORDERS.read_text())["values"].get(verify_mod.TEMP_KEYS) == []
