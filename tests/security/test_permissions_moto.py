"""The generated operator policy covers every call xacct makes: setup, status, verify, teardown (with and without a
state file) run through the CLI against moto, with a botocore `before-call` recorder on every client xacct's
Sessions build. Any call whose IAM action is not in `xacct permissions --side S --for COMMAND` fails the test.

This checks actions, in-process; resources and conditions are checked by running the lifecycle as operators holding
exactly the generated policies in the sandbox, which evaluates them as AWS does (tests/sandbox_authz/test_least_privilege.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.accounts import STATE
from tests.helpers.counting import hook_every_client
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi import aws as aws_mod
from xacct_dataapi import permissions
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")


def iam_action(service: str, operation: str) -> str:
    return f"{aws_mod.IAM_PREFIX.get(service, service)}:{operation}"


class Recorder:
    """Every call made with the operator's profiles, as (side, IAM action); refuses one not in `allowed`."""

    def __init__(self, monkeypatch):
        self.command: str | None = None
        self.seen: dict[str, set[tuple[str, str]]] = {}
        self.refused: list[str] = []

        def make_handler(account):
            def before_call(model, **_):
                self.check(account.value, iam_action(model.service_model.service_name, model.name))
            return before_call

        hook_every_client(monkeypatch, "before-call.*.*", make_handler, f"xacct-permissions-{id(self)}")

    def check(self, side: str, action: str) -> None:
        if action in permissions.NO_PERMISSION_NEEDED:
            return
        self.seen.setdefault(self.command, set()).add((side, action))
        if action not in permissions.allowed_actions(side, self.command):
            self.refused.append(f"{self.command} ({side}): {action}")
            raise AssertionError(f"`xacct {self.command}` calls {action} with the {side} profile, but "
                                 f"`xacct permissions --side {side} --for {self.command}` does not grant it")

    def run(self, command: str, args: list[str]):
        self.command = command
        res = CliRunner().invoke(cli, [command, *args], catch_exceptions=False)
        assert not self.refused, self.refused
        assert res.exit_code == 0, res.output
        return res


def test_every_call_is_in_the_generated_policy_for_its_command(world, password, monkeypatch):
    rec = Recorder(monkeypatch)
    rec.run("setup", world.setup_args("--enable-data-api", "--yes")[1:])
    rec.run("status", [])
    rec.run("verify", [])  # from outside the VPC: a --require-private-path deployment refuses it, as on AWS
    rec.run("teardown", ["--yes"])
    # Again, private path only, then lose the state file: teardown finds the deployment by name and tag.
    rec.run("setup", world.setup_args("--enable-data-api", "--yes", "--require-private-path")[1:])
    Path(STATE).unlink()
    rec.run("teardown", ["--yes", "--consumer-profile", "consumer", "--provider-profile", "provider"])
    # The calls the issue names were really made (the recorder saw them, so the policy has them).
    assert ("provider", "iam:ListRoles") in rec.seen["teardown"]
    assert ("provider", "tag:GetResources") in rec.seen["teardown"]
    assert ("consumer", "iam:CreateAccessKey") in rec.seen["verify"]
    assert {a for _, a in rec.seen["status"]} <= {a for s in ("provider", "consumer")
                                                  for a in permissions.allowed_actions(s, "status")}


def test_the_recorder_refuses_an_action_missing_from_the_policy(world, password, monkeypatch):
    """Not vacuous: with iam:ListRoles taken out of the teardown policy, teardown is refused."""
    rec = Recorder(monkeypatch)
    rec.run("setup", world.setup_args("--enable-data-api", "--yes")[1:])
    real = permissions.allowed_actions
    monkeypatch.setattr(permissions, "allowed_actions",
                        lambda side, command="all", scope=None: real(side, command, scope) - {"iam:ListRoles"})
    rec.command = "teardown"
    res = CliRunner().invoke(cli, ["teardown", "--yes"])
    assert rec.refused == ["teardown (provider): iam:ListRoles"], res.output
    assert res.exit_code != 0
    assert json.loads(Path(STATE).read_text())["resources"]  # nothing was silently skipped


def test_moving_a_role_made_at_the_root_path_is_in_the_setup_policy(world, password, monkeypatch):
    """A role made before the IAM path (at `/`) is deleted and created again at the path by `setup`: the generated
    setup policy has the calls that takes (they were teardown's alone)."""
    from xacct_dataapi.config import Names

    with monkeypatch.context() as mp:
        mp.setattr(Names, "access_role_path", staticmethod(lambda cluster_id, region: "/"))
        assert CliRunner().invoke(cli, world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    rec = Recorder(monkeypatch)
    rec.run("setup", world.setup_args("--enable-data-api", "--yes")[1:])
    assert {("provider", "iam:DeleteRolePolicy"), ("provider", "iam:DeleteRole"),
            ("provider", "iam:CreateRole")} <= rec.seen["setup"]
