"""Drift repaired, not crashed on (issue 22): resources of a deployment deleted or scheduled for deletion out of band
are reported by status (exit 1) and repaired by setup, never an internal error (exit 70)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli
from xacct_dataapi.config import Names

pytestmark = pytest.mark.usefixtures("fast_aws")

STATE = Path(".xacct/default.json")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def key_id() -> str:
    return next(r["id"] for r in json.loads(STATE.read_text())["resources"] if r["kind"] == "kms_key")


def schedule_key(world):
    world.provider.client("kms").schedule_key_deletion(KeyId=key_id(), PendingWindowInDays=7)


def delete_secret(world):
    world.provider.client("secretsmanager").delete_secret(SecretId=Names("default").secret, RecoveryWindowInDays=7)


def delete_role(world):
    iam = world.provider.client("iam")
    role = Names("default").access_role
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    iam.delete_role(RoleName=role)


@pytest.mark.parametrize("drift", [schedule_key, delete_secret, delete_role], ids=lambda f: f.__name__)
def test_out_of_band_deletion_is_reported_then_repaired(world, password, drift):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    drift(world)

    status = invoke(["status", "--output", "json"])
    assert status.exit_code == 1, status.output
    assert not json.loads(status.stdout)["all_done"]

    assert invoke(["doctor"]).exit_code in (0, 1)  # a diagnosis, never an internal error (70)

    repaired = invoke(world.setup_args("--enable-data-api", "--yes"))
    assert repaired.exit_code == 0, repaired.output
    after = invoke(["status", "--output", "json"])
    assert after.exit_code == 0, after.output
    kms = world.provider.client("kms")
    assert kms.describe_key(KeyId=key_id())["KeyMetadata"]["KeyState"] == "Enabled"
