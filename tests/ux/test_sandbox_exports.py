"""`xacct sandbox up`'s exports keep a profile the operator adds in the sandbox (a new user's trial, 2026-12-07).

The trial: after `xacct connect --format profile --source-profile app-user --write` (app-user: a credentials-only
profile with the access key of the user xacct made, as `connect` tells one to make it), `aws rds-data … --profile
xacct-NAME` sent its AssumeRole to the real sts.us-west-2.amazonaws.com: neither profile has an endpoint_url, and the
exports named only the config files. The exports now carry AWS_ENDPOINT_URL, and the same profiles stay on 127.0.0.1.
"""
from __future__ import annotations

import io
import os
import shlex

import boto3
import pytest
from botocore.exceptions import BotoCoreError
from moto.server import ThreadedMotoServer
from rich.console import Console

from xacct_dataapi.sandbox import instructions
from xacct_dataapi.sandbox.info import SandboxInfo
from xacct_dataapi.terminal import Terminal

REGION = "us-west-2"


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    finally:
        server.stop()


def printed_exports(info: SandboxInfo, monkeypatch) -> dict[str, str]:
    """The `export K=V` lines `sandbox up` prints for the operator's shell (before the inside-the-VPC one)."""
    monkeypatch.setattr(instructions, "second_vpc", lambda info: None)  # no default VPC to name: no AWS call
    text = io.StringIO()
    console = Console(file=text, width=80)
    instructions.print_instructions(Terminal(out=console, err=console), info, "")
    operator_part = text.getvalue().split("An application inside")[0]
    exports = [line.strip()[len("export "):] for line in operator_part.splitlines() if line.strip().startswith("export ")]
    return dict(line.split("=", 1) for line in exports)


def test_the_exports_keep_a_connect_profile_on_a_credentials_only_profile_in_the_sandbox(moto_url, tmp_path,
                                                                                           monkeypatch):
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text(f"[profile admin]\nregion = {REGION}\nendpoint_url = {moto_url}\n")
    credentials.write_text("[admin]\naws_access_key_id = AKIAADMIN\naws_secret_access_key = admin-secret\n")
    for var in [v for v in os.environ if v.startswith("AWS_")]:
        monkeypatch.delenv(var)
    # Anything that leaves for AWS fails at once instead of leaving the machine.
    for var, value in {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
                       "NO_PROXY": "127.0.0.1", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(var, value)
    info = SandboxInfo(endpoint_url=moto_url, dir=tmp_path, config_file=config, credentials_file=credentials,
                       region=REGION, consumer_account="111111111111", provider_account="222222222222",
                       consumer_profile="admin", provider_profile="admin", vpc_id="vpc-0abc1234",
                       vpc_cidr="10.20.0.0/16", subnet_ids=("subnet-0aaa1111",), cluster_id="c", cluster_arn="arn",
                       engine="aurora-postgresql")
    exports = printed_exports(info, monkeypatch)
    assert exports["AWS_ENDPOINT_URL"] == moto_url

    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    admin = boto3.Session(profile_name="admin")
    iam = admin.client("iam")
    iam.create_user(UserName="xacct-orders-data-api-client")
    key = iam.create_access_key(UserName="xacct-orders-data-api-client")["AccessKey"]
    role = iam.create_role(RoleName="xacct-orders-data-api-access", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    with credentials.open("a") as f:  # what `aws configure set … --profile app-user` writes
        f.write(f"[app-user]\naws_access_key_id = {key['AccessKeyId']}\n"
                f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    with config.open("a") as f:  # the keys `xacct connect --format profile --source-profile app-user` writes
        f.write(f"[profile xacct-orders]\nrole_arn = {role}\nexternal_id = xacct-0123\n"
                f"role_session_name = xacct-orders\nregion = {REGION}\nsource_profile = app-user\n")

    def caller() -> str:
        return boto3.Session(profile_name="xacct-orders").client("sts").get_caller_identity()["Arn"]

    assert shlex.split(exports["AWS_CONFIG_FILE"]) == [str(config.resolve())]
    assert shlex.split(exports["AWS_SHARED_CREDENTIALS_FILE"]) == [str(credentials.resolve())]
    with pytest.raises(BotoCoreError):  # the config files alone: the AssumeRole heads for real AWS
        caller()
    monkeypatch.setenv("AWS_ENDPOINT_URL", exports["AWS_ENDPOINT_URL"])
    assert caller().endswith(":assumed-role/xacct-orders-data-api-access/xacct-orders")
