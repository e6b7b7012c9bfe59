"""`xacct permissions` prints what an administrator attaches: a flag's value goes into a statement's Resource, where
`*`, `?` and `${...}` are IAM wildcards and policy variables. `--consumer-role '*'` printed iam:PutRolePolicy and
sts:AssumeRole on every role of the consumer account (PutRolePolicy on any role is the account). Every scope flag is
refused with a wildcard, as --state-bucket already was, naming the flag and the fix (exit 2)."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from xacct_dataapi.cli import cli

BASE = ["permissions", "--side", "consumer", "--output", "json"]


@pytest.mark.parametrize("flag, value", [
    ("--consumer-role", "*"), ("--consumer-role", "app-*"), ("--consumer-user", "a?p"), ("--cluster", "*"),
    ("--vpc", "vpc-*"), ("--provider-account", "*"), ("--consumer-account", "${aws:PrincipalAccount}"),
    ("--admin-secret", "arn:aws:secretsmanager:us-west-2:222222222222:secret:*"),
])
def test_a_scope_flag_with_a_wildcard_is_refused(flag, value):
    res = CliRunner().invoke(cli, [*BASE, flag, value])
    assert res.exit_code == 2, res.output
    assert flag in res.output and value in res.output and "Statement" not in res.output, res.output


def test_names_without_wildcards_still_give_their_statements():
    res = CliRunner().invoke(cli, [*BASE, "--consumer-role", "orders-app", "--consumer-account", "111111111111"])
    assert res.exit_code == 0, res.output
    assert "arn:aws:iam::111111111111:role/orders-app" in res.output
    assert "role/*\"" not in res.output
