"""The trial pressed Ctrl-C mid-setup and re-ran it: the resumed run ended with "Repaired step 2 (Key policy ...): key
policy ... differs: ... Enable IAM User Permissions: unexpected statement", which read as drift someone else caused.
After an interrupted run, setup now says first that the interrupted run left those steps part-made."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.helpers.hooks import CallHooks
# The Ctrl-C as a terminal sends it, mid-setup (the runner defers it to the next call boundary).
from tests.reliability.test_interrupt import INTERRUPT_AT, send_sigint_at, sigint_guard  # noqa: F401 (fixture)
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")

NOTE = "The last run was interrupted: it left the steps below part-made"


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def flat(text: str) -> str:
    return " ".join(text.split())


def key_policy_sids(world) -> set[str]:
    kms = world.provider.client("kms")
    key = kms.describe_key(KeyId="alias/xacct-orders")["KeyMetadata"]["KeyId"]
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    return {s.get("Sid", "") for s in policy["Statement"]}


def test_a_resumed_run_says_the_interrupted_run_left_its_repairs(world, password, monkeypatch, sigint_guard):  # noqa: F811
    hooks = CallHooks(after=send_sigint_at(INTERRUPT_AT)).install(monkeypatch)
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 130
    assert "AllowAccessRoleDecryptViaSecretsManager" not in key_policy_sids(world)  # made, not yet configured
    hooks.after = None

    res = invoke(world.setup_args("--enable-data-api", "--yes", name="orders"))
    assert res.exit_code == 0, res.output
    said = flat(res.stderr)
    assert NOTE in said and "Repaired step 2 (Key policy" in said, said
    assert said.index(NOTE) < said.index("Repaired step 2")
    assert "AllowAccessRoleDecryptViaSecretsManager" in key_policy_sids(world)  # the resumed run finished it


def test_a_repair_of_drift_after_a_finished_run_does_not_blame_an_interrupt(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    kms = world.provider.client("kms")
    key = kms.describe_key(KeyId="alias/xacct-orders")["KeyMetadata"]["KeyId"]
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
        "Action": "kms:*", "Resource": "*"}]}))  # someone reset the key policy to AWS's default

    res = invoke(world.setup_args("--enable-data-api", "--yes", name="orders"))
    assert res.exit_code == 0, res.output
    said = flat(res.stderr)
    assert "Repaired step 2 (Key policy" in said and NOTE not in said, said
    assert "AllowAccessRoleDecryptViaSecretsManager" in key_policy_sids(world)
