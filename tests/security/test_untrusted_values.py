"""Values read from AWS or from a state file are untrusted input (issue 24): nothing `connect` writes into an AWS
config, a shell or a code snippet can carry a section header, a newline, a quote or a backslash out of its place,
and setup never adopts an external id that AWS itself would not accept."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.accounts import CONSUMER, PROVIDER, ROLE_NAME, STATE, access_role_arn
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi import state as state_mod
from xacct_dataapi.cli import cli
from xacct_dataapi.state import ResourceRow, State


EVIL = {
    "external_id": ["x\n[profile evil]\ncredential_process = touch PWNED", 'ab"c', "ab\\c", "a'b", "x y"],
    "access_role_arn": ['arn:aws:iam::222222222222:role/x"\nimport os', "arn:aws:iam::222222222222:role/x\n[default]"],
    "cluster_arn": ['arn:aws:rds:us-west-2:222222222222:cluster:a"+__import__("os").system("id")+"'],
    "secret_arn": ["arn:aws:secretsmanager:us-west-2:222222222222:secret:a\\\"b"],
    "database": ['postgres"; DROP', "db\nx"],
}
CASES = [pytest.param(key, value, fmt, id=f"{key}-{n}-{fmt}")
         for key, values in EVIL.items() for n, value in enumerate(values)
         for fmt in ("profile", "python", "sqlalchemy", "env", "json", "text")]


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def handed_off_state(path: Path) -> None:
    """A complete deployment's state as setup records it (connect reads nothing else: no AWS call)."""
    state = State(name="default", region="us-west-2", accounts={"consumer": CONSUMER, "provider": PROVIDER},
                  profiles={"consumer": "consumer", "provider": "provider"}, values={
                      "access_role_arn": access_role_arn(), "external_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
                      "cluster_arn": f"arn:aws:rds:us-west-2:{PROVIDER}:cluster:orders-aurora",
                      "secret_arn": f"arn:aws:secretsmanager:us-west-2:{PROVIDER}:secret:xacct-default/db-credentials-AbCdEf",
                      "consumer_principal_arn": f"arn:aws:iam::{CONSUMER}:user/xacct-default-data-api-client",
                      "database": "postgres", "cluster_engine": "aurora-postgresql"},
                  resources=[ResourceRow(6, "iam_user", "xacct-default-data-api-client", "consumer")])
    state_mod.save(state, path)


def test_the_untampered_state_hands_off(tmp_path, monkeypatch):
    """The control: the same state, untampered, is written (so each refusal below is the value's doing)."""
    handed_off_state(Path(STATE))
    config = tmp_path / "aws-config"
    config.write_text("[profile consumer]\nregion = us-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    res = CliRunner().invoke(cli, ["connect", "--format", "profile", "--source-profile", "consumer", "--write"])
    assert res.exit_code == 0, res.output
    assert "external_id = a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d" in config.read_text()


@pytest.mark.parametrize(("key", "value", "fmt"), CASES)
def test_a_tampered_value_is_refused_and_nothing_is_written(tmp_path, monkeypatch, key, value, fmt):
    handed_off_state(Path(STATE))
    state = json.loads(Path(STATE).read_text())
    state["values"][key] = value
    Path(STATE).write_text(json.dumps(state))
    config = tmp_path / "aws-config"
    config.write_text("[profile consumer]\nregion = us-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    before = config.read_text()

    args = ["connect", "--format", fmt, "--source-profile", "consumer"] + (["--write"] if fmt == "profile" else [])
    res = CliRunner().invoke(cli, args)

    assert res.exit_code != 0, res.output
    assert f"recorded {key.replace('access_role_arn', 'role_arn')}" in " ".join(res.output.split())
    assert config.read_text() == before, "nothing written"
    assert "[profile evil]" not in res.stdout and "credential_process" not in res.stdout


@pytest.mark.usefixtures("fast_aws")
def test_setup_does_not_adopt_an_external_id_aws_would_refuse(world, password, tmp_path, monkeypatch):
    """The injection from the trial: the role's trust-policy external id rewritten by hand, then a setup from a fresh
    directory (no state file: the external id is read back from AWS). It is not adopted; the trust is repaired."""
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    iam = world.provider.client("iam")
    trust = iam.get_role(RoleName=ROLE_NAME)["Role"]["AssumeRolePolicyDocument"]
    evil = "x\n[profile evil]\ncredential_process = touch PWNED"
    trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = evil
    iam.update_assume_role_policy(RoleName=ROLE_NAME, PolicyDocument=json.dumps(trust))
    Path(STATE).unlink()

    res = invoke(world.setup_args("--enable-data-api", "--yes"))
    assert res.exit_code == 0, res.output
    recorded = json.loads(Path(STATE).read_text())["values"]["external_id"]
    assert recorded != evil and "\n" not in recorded
    now = iam.get_role(RoleName=ROLE_NAME)["Role"]["AssumeRolePolicyDocument"]
    assert now["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] == recorded

    config = tmp_path / "aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    config.write_text("[profile consumer]\nregion = us-west-2\n")
    res = invoke(["connect", "--format", "profile", "--source-profile", "consumer", "--write"])
    assert res.exit_code == 0, res.output
    assert "[profile evil]" not in config.read_text() and f"external_id = {recorded}" in config.read_text()


# The other values a hand-off names (region and accounts from the state's top level, the principal, the VPC and
# endpoint ids), and the operator's own --profile-name / --source-profile: each reaches a format, none may break out.
PLACED = {"region": ("region",), "principal_arn": ("values", "consumer_principal_arn"),
          "vpc_id": ("config", "vpc_id"), "endpoint_id": ("values", "endpoint_id"),
          "consumer_account": ("accounts", "consumer")}
MORE_EVIL = {"region": "us-west-2\n[profile evil]", "principal_arn": 'arn:aws:iam::111111111111:user/a"b',
             "vpc_id": "vpc-0123abcd\ncredential_process = touch PWNED", "endpoint_id": "vpce-0123abcd'\\",
             "consumer_account": "11111111111\n1"}


@pytest.mark.parametrize("fmt", ["profile", "python", "sqlalchemy", "env", "json", "text"])
@pytest.mark.parametrize("key", sorted(MORE_EVIL))
def test_every_other_handed_off_value_is_checked_too(tmp_path, monkeypatch, key, fmt):
    handed_off_state(Path(STATE))
    state = json.loads(Path(STATE).read_text())
    *parents, leaf = PLACED[key]
    holder = state
    for part in parents:
        holder = holder.setdefault(part, {})
    holder[leaf] = MORE_EVIL[key]
    Path(STATE).write_text(json.dumps(state))
    config = tmp_path / "aws-config"
    config.write_text("[profile consumer]\nregion = us-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))

    args = ["connect", "--format", fmt, "--source-profile", "consumer"] + (["--write"] if fmt == "profile" else [])
    res = CliRunner().invoke(cli, args)

    assert res.exit_code == 2, res.output
    assert f"recorded {key}" in " ".join(res.output.split()) and repr(MORE_EVIL[key])[1:8] in res.output
    assert config.read_text() == "[profile consumer]\nregion = us-west-2\n"
    assert "[profile evil]" not in res.stdout and "credential_process" not in res.stdout


@pytest.mark.parametrize("flag", ["--profile-name", "--source-profile"])
@pytest.mark.parametrize("value", ["evil\n", "x\n[profile evil]\ncredential_process = touch PWNED", 'a"b', "a\\b"])
def test_the_operator_s_profile_names_cannot_break_out_of_their_line(tmp_path, monkeypatch, flag, value):
    """A trailing newline too: `$` would match before it (the patterns end in \\Z)."""
    handed_off_state(Path(STATE))
    config = tmp_path / "aws-config"
    config.write_text("[profile consumer]\nregion = us-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    args = ["connect", "--format", "profile", "--write", flag, value]
    if flag == "--profile-name":
        args += ["--source-profile", "consumer"]

    res = CliRunner().invoke(cli, args)

    assert res.exit_code == 2, res.output
    assert flag in res.output and repr(value)[:6] in res.output
    assert config.read_text() == "[profile consumer]\nregion = us-west-2\n"
