"""connect's pure parts: the hand-off read from a state, the profile block and its merge into an AWS config file."""
from __future__ import annotations

import configparser

import pytest
from typer.testing import CliRunner

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION
from xacct_dataapi import connect
from xacct_dataapi import state as state_mod
from xacct_dataapi.cli import cli
from xacct_dataapi.errors import UsageError
from xacct_dataapi.state import ResourceRow, State

ROLE = f"arn:aws:iam::{PROVIDER}:role/xacct-orders-data-api-access"
SECRET = f"arn:aws:secretsmanager:{REGION}:{PROVIDER}:secret:xacct-orders/db-credentials-AbCdEf"
CLUSTER = f"arn:aws:rds:{REGION}:{PROVIDER}:cluster:orders-aurora"
USER = f"arn:aws:iam::{CONSUMER}:user/xacct-orders-data-api-client"


def make_state(**values) -> State:
    base = {"access_role_arn": ROLE, "external_id": "xacct-0123", "cluster_arn": CLUSTER, "secret_arn": SECRET,
            "consumer_principal_arn": USER, "database": "orders", "cluster_engine": "aurora-postgresql"}
    return State(name="orders", region=REGION, accounts={"consumer": CONSUMER, "provider": PROVIDER},
                 values={**base, **values},
                 resources=[ResourceRow(6, "iam_user", "xacct-orders-data-api-client", "consumer", arn=USER)])


def handoff(**values) -> connect.HandOff:
    return connect.HandOff.from_state(make_state(**values))


def test_handoff_reads_the_state_and_prints_no_secret():
    h = handoff()
    assert (h.database, h.dialect, h.principal_kind, h.principal_created) == ("orders", "postgresql", "user", True)
    for fmt in connect.FORMATS:
        out = connect.render(h, fmt, connect.Source(), "xacct-orders")
        assert "password" not in out.lower()
    assert "mysql+auroradataapi://:@/orders" in connect.render(handoff(cluster_engine="aurora-mysql"), "sqlalchemy",
                                                               connect.Source(), "p")


def test_text_fits_80_columns_except_whole_arns():
    text = connect.render(handoff(), "text", connect.Source(), "xacct-orders")
    assert all(len(line) <= 80 or line.strip().startswith("arn:") for line in text.splitlines()), text
    assert USER in text and "create-access-key" in text


def test_env_has_the_variables_aurora_data_api_reads():
    env = connect.render(handoff(), "env", connect.Source(), "xacct-orders")
    assert f"export AURORA_CLUSTER_ARN={CLUSTER}" in env and f"export AURORA_SECRET_ARN={SECRET}" in env
    assert "export AURORA_DATABASE=orders" in env


@pytest.mark.parametrize("values, needle", [({"secret_arn": None}, "secret_arn"), ({"database": None}, "older xacct")])
def test_incomplete_or_old_state_is_a_usage_error(values, needle):
    with pytest.raises(UsageError, match=needle):
        handoff(**values)


def test_source_flags_exclude_each_other_and_are_checked():
    with pytest.raises(UsageError, match="exclude"):
        connect.Source.choose("p", "Environment")
    with pytest.raises(UsageError, match="Ec2InstanceMetadata"):
        connect.Source.choose(None, "Ec2")


def test_profile_block_parses_as_the_sdk_reads_it():
    block = connect.profile_block(handoff(), connect.Source(credential_source="EcsContainer"), "xacct-orders")
    cp = configparser.ConfigParser()
    cp.read_string(block)
    sec = cp["profile xacct-orders"]
    assert (sec["role_arn"], sec["external_id"], sec["region"], sec["credential_source"]) == (
        ROLE, "xacct-0123", REGION, "EcsContainer")


def test_merge_appends_replaces_only_its_own_section_and_is_idempotent():
    other = "[default]\nregion = eu-west-1\n\n[profile app]\nregion = us-west-2\n"
    block = connect.profile_block(handoff(), connect.Source(profile="app"), "xacct-orders")
    once = connect.merge_profile(other, block, "xacct-orders", "orders")
    assert once.startswith(other) and once.count("[profile xacct-orders]") == 1
    assert connect.merge_profile(once, block, "xacct-orders", "orders") == once
    # A new block replaces the old one in place; sections after it stay.
    after = once + "\n[profile later]\nregion = us-east-1\n"
    changed = connect.merge_profile(after, block.replace("xacct-0123", "xacct-9999"), "xacct-orders", "orders")
    assert "xacct-0123" not in changed and changed.count("xacct-9999") == 1 and changed.endswith("[profile later]\nregion = us-east-1\n")


@pytest.mark.parametrize("existing", ["[profile xacct-orders]\nregion = us-west-2\n",
                                      f"[profile xacct-orders]\n{connect.MARKER}other\nregion = us-west-2\n"])
def test_merge_refuses_a_section_it_did_not_write(existing):
    with pytest.raises(UsageError, match="did not write"):
        connect.merge_profile(existing, "[profile xacct-orders]\n", "xacct-orders", "orders")


def test_cli_write_twice_one_section_and_a_backup_then_foreign_refused(tmp_path, monkeypatch):
    path = tmp_path / "orders.json"
    state_mod.save(make_state(), path)
    cfg = tmp_path / "aws-config"  # tests.helpers.profiles wrote it, with a profile `base`
    before = cfg.read_text()
    args = ["connect", "--state", str(path), "--format", "profile", "--source-profile", "base", "--write"]
    for _ in range(2):
        res = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert res.exit_code == 0, res.output
    assert cfg.read_text().count("[profile xacct-orders]") == 1 and cfg.read_text().startswith(before)
    assert (tmp_path / "aws-config.xacct-backup").read_text() == before
    res = CliRunner().invoke(cli, [*args, "--profile-name", "base"], catch_exceptions=False)
    assert res.exit_code == 2 and "did not write" in res.output
    res = CliRunner().invoke(cli, ["connect", "--state", str(path), "--write"], catch_exceptions=False)
    assert res.exit_code == 2 and "--source-profile" in res.output
