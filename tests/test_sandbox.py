"""Tests for xacct_dataapi.sandbox: moto's server on 127.0.0.1 with two simulated accounts.

Every test talks only to 127.0.0.1; a module-wide guard fails any other connect().
"""

from __future__ import annotations

import json
import socket
import stat
import sys
import time

import pytest

pytest.importorskip("moto.server")

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from tests.helpers.accounts import CONSUMER, PROVIDER  # noqa: E402
from xacct_dataapi import sandbox as sbmod  # noqa: E402
from xacct_dataapi.sandbox import (  # noqa: E402
    CONSUMER_ACCOUNT,
    CONSUMER_PROFILE,
    PROVIDER_ACCOUNT,
    PROVIDER_PROFILE,
    REGION,
    Sandbox,
    SandboxError,
    SandboxInfo,
    SandboxUnavailable,
    resources_in_accounts,
)

pytestmark = pytest.mark.server

AWS_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "MOTO_ACCOUNT_ID",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
)


# --------------------------------------------------------------------------- guards


@pytest.fixture
def clean_env(monkeypatch):
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def use_profiles(monkeypatch, info: SandboxInfo) -> None:
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    for k, v in info.env().items():
        monkeypatch.setenv(k, v)


def client(profile: str, service: str):
    # No endpoint_url / region here: both must come from the profile.
    return boto3.Session(profile_name=profile).client(service, config=Config(proxies={}))


def port_refuses(port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        return s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        s.close()


# --------------------------------------------------------------------------- one shared sandbox


@pytest.fixture(scope="class")
def shared(tmp_path_factory):
    sb = Sandbox(tmp_path_factory.mktemp("sandbox"))
    sb.start()
    yield sb
    sb.stop()


class TestRunningSandbox:
    def test_profile_files_are_private(self, shared):
        info = shared.info
        for path in (info.config_file, info.credentials_file):
            assert path.is_file()
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            assert path.is_absolute()
        config = info.config_file.read_text()
        assert f"[profile {CONSUMER_PROFILE}]" in config
        assert f"[profile {PROVIDER_PROFILE}]" in config
        assert f"endpoint_url = {info.endpoint_url}" in config
        assert f"region = {REGION}" in config
        assert info.endpoint_url.startswith("http://127.0.0.1:")

    def test_env_points_at_the_files(self, shared):
        env = shared.info.env()
        assert env == {
            "AWS_CONFIG_FILE": str(shared.info.config_file),
            "AWS_SHARED_CREDENTIALS_FILE": str(shared.info.credentials_file),
        }

    def test_profiles_land_in_their_accounts(self, shared, monkeypatch):
        use_profiles(monkeypatch, shared.info)
        consumer = client(CONSUMER_PROFILE, "sts").get_caller_identity()
        provider = client(PROVIDER_PROFILE, "sts").get_caller_identity()
        assert consumer["Account"] == CONSUMER_ACCOUNT == CONSUMER
        assert provider["Account"] == PROVIDER_ACCOUNT == PROVIDER
        assert consumer["Arn"] == f"arn:aws:iam::{CONSUMER}:user/xacct-sandbox-admin"

    def test_consumer_vpc_and_subnets(self, shared, monkeypatch):
        info = shared.info
        use_profiles(monkeypatch, info)
        ec2 = client(CONSUMER_PROFILE, "ec2")
        vpcs = ec2.describe_vpcs(VpcIds=[info.vpc_id])["Vpcs"]
        assert [v["CidrBlock"] for v in vpcs] == ["10.20.0.0/16"] == [info.vpc_cidr]
        for attr, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
            assert ec2.describe_vpc_attribute(VpcId=info.vpc_id, Attribute=attr)[key]["Value"] is True
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [info.vpc_id]}])["Subnets"]
        assert sorted(s["SubnetId"] for s in subnets) == sorted(info.subnet_ids)
        assert len(subnets) == 2
        assert sorted(s["AvailabilityZone"] for s in subnets) == ["us-west-2a", "us-west-2b"]
        assert sorted(s["CidrBlock"] for s in subnets) == ["10.20.1.0/24", "10.20.2.0/24"]
        for s in subnets:
            assert s["MapPublicIpOnLaunch"] is False
            names = [t["Value"] for t in s.get("Tags", []) if t["Key"] == "Name"]
            assert names and names[0].startswith("xacct-sandbox-")

    def test_provider_does_not_see_consumer_vpc(self, shared, monkeypatch):
        info = shared.info
        use_profiles(monkeypatch, info)
        ec2 = client(PROVIDER_PROFILE, "ec2")
        assert info.vpc_id not in [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
        with pytest.raises(ClientError):
            ec2.describe_vpcs(VpcIds=[info.vpc_id])

    def test_provider_cluster_with_data_api_off(self, shared, monkeypatch):
        info = shared.info
        use_profiles(monkeypatch, info)
        rds = client(PROVIDER_PROFILE, "rds")
        (cluster,) = rds.describe_db_clusters(DBClusterIdentifier=info.cluster_id)["DBClusters"]
        assert cluster["HttpEndpointEnabled"] is False
        assert cluster["DBClusterArn"] == info.cluster_arn
        assert f":{PROVIDER_ACCOUNT}:" in info.cluster_arn
        assert cluster["Engine"] == "aurora-postgresql" == info.engine
        assert cluster["EngineMode"] == "provisioned" == info.engine_mode  # Serverless v2
        assert cluster["DatabaseName"] == "app"
        assert cluster["MasterUsername"] == "postgres"

    def test_consumer_does_not_see_cluster(self, shared, monkeypatch):
        use_profiles(monkeypatch, shared.info)
        rds = client(CONSUMER_PROFILE, "rds")
        assert rds.describe_db_clusters()["DBClusters"] == []
        with pytest.raises(ClientError) as e:
            rds.describe_db_clusters(DBClusterIdentifier=shared.info.cluster_id)
        assert e.value.response["Error"]["Code"] == "DBClusterNotFoundFault"

    def test_sandbox_json(self, shared):
        info = shared.info
        doc = json.loads((info.dir / "sandbox.json").read_text())
        assert doc["pid"] == __import__("os").getpid()
        assert doc["port"] == info.port
        assert SandboxInfo.from_json(doc) == info
        assert SandboxInfo.from_json(json.loads(json.dumps(info.to_json()))) == info

    def test_setup_command(self, shared):
        info = shared.info
        a, b = info.subnet_ids
        assert info.setup_command() == (
            "xacct setup --consumer-profile xacct-operator-consumer --provider-profile xacct-operator-provider "
            f"--cluster xacct-sandbox-aurora --vpc {info.vpc_id} --subnets {a},{b} --enable-data-api"
        )

    def test_sandbox_up_lines_run_as_printed(self, shared, tmp_path, monkeypatch):
        """The trial: `sandbox up` printed `xacct setup …` (xacct not on PATH after `make demo`; no --name, so it made
        `default`) and never named the second VPC. Each printed line now runs as printed, in a shell whose PATH has no
        xacct, from the folder `sandbox up` ran in; the move line plans a replacement into the default VPC."""
        import io
        import os
        import subprocess

        from rich.console import Console

        from xacct_dataapi.sandbox.instructions import print_instructions
        from xacct_dataapi.terminal import Terminal

        monkeypatch.chdir(tmp_path)
        text = io.StringIO()
        console = Console(file=text, width=80)
        print_instructions(Terminal(out=console, err=console), shared.info, "")
        lines = text.getvalue().splitlines()
        commands = [line.strip() for line in lines if line.startswith("  ")]
        setup = next(c for c in commands if " setup --consumer-profile " in c)
        assert any(c.endswith(" status --name sandbox") for c in commands)
        move = next(c for c in commands if c.endswith("--dry-run"))
        assert "--name sandbox" in setup and not setup.startswith("xacct ")  # the venv's xacct, by its path
        teardown = next(c for c in commands if " teardown --name sandbox " in c)
        exports = [c for c in commands if c.startswith("export AWS_CONFIG_FILE") or
                   c.startswith("export AWS_SHARED_CREDENTIALS_FILE")]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "XACCT_"))}
        env["PATH"] = "/usr/bin:/bin"  # no xacct on it

        def run(*shell_lines: str) -> subprocess.CompletedProcess:
            return subprocess.run(["bash", "-ec", "\n".join([*exports, *shell_lines])], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)

        try:
            res = run(setup, move)
            assert res.returncode == 0, res.stdout + res.stderr
            assert json.loads((tmp_path / ".xacct" / "sandbox.json").read_text())["name"] == "sandbox"
            assert "1 to replace" in " ".join(res.stdout.split())
            vpc = move.split("--vpc ")[1].split()[0]
            use_profiles(monkeypatch, shared.info)
            assert client(CONSUMER_PROFILE, "ec2").describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["IsDefault"] is True
            assert vpc != shared.info.vpc_id and f"default VPC {vpc}" in " ".join(text.getvalue().split())
        finally:
            res = run(teardown)
        assert res.returncode == 0, res.stdout + res.stderr
        assert resources_in_accounts(shared.info) == {"consumer": [], "provider": []}

    def test_the_operator_profiles_hold_exactly_the_generated_policies(self, shared):
        """The operators xacct runs as: in its own account, only `xacct permissions --for all`'s statements (as
        managed policies), and refused what that policy does not grant."""
        from xacct_dataapi.sandbox import operators
        from xacct_dataapi.sandbox.info import botocore_session

        info = shared.info
        for side, (_admin, profile) in operators.PROFILES.items():
            session = boto3.Session(botocore_session=botocore_session(info.config_file, info.credentials_file, profile))
            account = info.consumer_account if side == "consumer" else info.provider_account
            assert session.client("sts", endpoint_url=info.endpoint_url).get_caller_identity()["Account"] == account
            admin_iam = boto3.Session(botocore_session=botocore_session(
                info.config_file, info.credentials_file, _admin)).client("iam", endpoint_url=info.endpoint_url)
            user = operators.OPERATOR_USER
            assert admin_iam.list_user_policies(UserName=user)["PolicyNames"] == []
            assert admin_iam.list_groups_for_user(UserName=user)["Groups"] == []
            held = []
            for attached in admin_iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]:
                version = admin_iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
                held += admin_iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)[
                    "PolicyVersion"]["Document"]["Statement"]
            # In the sandbox's VPC and the account's default VPC, where `sandbox up` offers a move (`--vpc A,B`).
            default_vpc = boto3.Session(botocore_session=botocore_session(
                info.config_file, info.credentials_file, info.consumer_profile)).client(
                "ec2", endpoint_url=info.endpoint_url).describe_vpcs(
                Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
            expected = operators.generated_policy(side, region=info.region, provider=info.provider_account,
                                                  consumer=info.consumer_account, cluster=info.cluster_id,
                                                  vpc=f"{info.vpc_id},{default_vpc}",
                                                  state_bucket=info.team_state)["Statement"]
            assert {"TeamStateObjects", "TeamStateList"} <= {s["Sid"] for s in expected}  # --state-bucket's too

            def canonical(statements):
                return sorted(json.dumps(s, sort_keys=True) for s in statements)

            assert canonical(held) == canonical(expected)
            with pytest.raises(ClientError) as denied:
                session.client("iam", endpoint_url=info.endpoint_url).create_user(UserName="not-granted")
            assert denied.value.response["Error"]["Code"] == "AccessDenied"

    def test_nothing_left_behind_initially(self, shared):
        assert resources_in_accounts(shared.info) == {"consumer": [], "provider": []}

    def test_second_sandbox_in_same_process_is_refused(self, shared, tmp_path):
        with pytest.raises(SandboxError, match="already running"):
            Sandbox(tmp_path).start()
        # and the refusal did not disturb the running one
        assert shared.running
        assert not port_refuses(shared.info.port)


# --------------------------------------------------------------------------- lifecycle


def test_stop_closes_the_port(tmp_path, clean_env):
    sb = Sandbox(tmp_path)
    info = sb.start()
    assert not port_refuses(info.port)
    sb.stop()
    assert port_refuses(info.port)
    assert not (tmp_path / "sandbox.json").exists()
    with pytest.raises(SandboxError):
        sb.info  # noqa: B018
    sb.stop()  # idempotent


def test_context_manager_and_moto_account_id_stripped(tmp_path, clean_env):
    clean_env.setenv("MOTO_ACCOUNT_ID", "333333333333")
    with Sandbox(tmp_path) as sb:
        assert "MOTO_ACCOUNT_ID" not in __import__("os").environ
        use_profiles(clean_env, sb.info)
        assert client(CONSUMER_PROFILE, "sts").get_caller_identity()["Account"] == CONSUMER_ACCOUNT
        assert client(PROVIDER_PROFILE, "sts").get_caller_identity()["Account"] == PROVIDER_ACCOUNT
        port = sb.info.port
    assert port_refuses(port)
    assert __import__("os").environ["MOTO_ACCOUNT_ID"] == "333333333333"


def test_restart_gets_fresh_state(tmp_path, clean_env):
    with Sandbox(tmp_path / "a") as first:
        vpc1 = first.info.vpc_id
    with Sandbox(tmp_path / "b") as second:
        use_profiles(clean_env, second.info)
        vpcs = client(CONSUMER_PROFILE, "ec2").describe_vpcs()["Vpcs"]
        ids = [v["VpcId"] for v in vpcs]
        assert vpc1 not in ids and second.info.vpc_id in ids
        # default VPC + the seeded one
        assert len(vpcs) == 2


@pytest.mark.parametrize(
    ("engine", "user"), [("aurora-postgresql", "postgres"), ("aurora-mysql", "admin")]
)
def test_data_api_is_switched_by_enable_http_endpoint(tmp_path, clean_env, engine, user):
    """The default cluster (Serverless v2 / provisioned) takes EnableHttpEndpoint / DisableHttpEndpoint, which moto
    does not implement (the sandbox answers them); ModifyDBCluster's flag stays a no-op there, as on AWS."""
    with Sandbox(tmp_path, engine=engine) as sb:
        use_profiles(clean_env, sb.info)
        rds = client(PROVIDER_PROFILE, "rds")
        cid, arn = sb.info.cluster_id, sb.info.cluster_arn

        def enabled():
            return rds.describe_db_clusters(DBClusterIdentifier=cid)["DBClusters"][0]["HttpEndpointEnabled"]

        (c,) = rds.describe_db_clusters(DBClusterIdentifier=cid)["DBClusters"]
        assert (c["Engine"], c["MasterUsername"], c["HttpEndpointEnabled"]) == (engine, user, False)
        rds.modify_db_cluster(DBClusterIdentifier=cid, EnableHttpEndpoint=True, ApplyImmediately=True)
        assert enabled() is False
        assert rds.enable_http_endpoint(ResourceArn=arn)["HttpEndpointEnabled"] is True
        assert enabled() is True
        assert rds.disable_http_endpoint(ResourceArn=arn)["HttpEndpointEnabled"] is False
        assert enabled() is False
        with pytest.raises(ClientError) as e:
            rds.enable_http_endpoint(ResourceArn=arn + "-nope")
        assert e.value.response["Error"]["Code"] == "DBClusterNotFoundFault"


def test_serverless_v1_cluster_is_switched_by_modify_db_cluster(tmp_path, clean_env):
    with Sandbox(tmp_path, engine_mode="serverless") as sb:
        use_profiles(clean_env, sb.info)
        rds = client(PROVIDER_PROFILE, "rds")
        with pytest.raises(ClientError) as e:
            rds.enable_http_endpoint(ResourceArn=sb.info.cluster_arn)
        assert e.value.response["Error"]["Code"] == "InvalidParameterCombination"
        out = rds.modify_db_cluster(
            DBClusterIdentifier=sb.info.cluster_id, EnableHttpEndpoint=True, ApplyImmediately=True
        )
        assert (out["DBCluster"]["EngineMode"], out["DBCluster"]["HttpEndpointEnabled"]) == ("serverless", True)


def test_explicit_port(tmp_path, clean_env):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with Sandbox(tmp_path, port=port) as sb:
        assert sb.info.endpoint_url == f"http://127.0.0.1:{port}"


def test_port_in_use_fails_fast(tmp_path, clean_env):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        t0 = time.monotonic()
        with pytest.raises(SandboxError, match="cannot listen"):
            Sandbox(tmp_path, port=s.getsockname()[1]).start()
        assert time.monotonic() - t0 < 5
    finally:
        s.close()
    # the failed start released the per-process slot
    with Sandbox(tmp_path / "ok") as sb:
        assert sb.running


def test_resources_in_accounts_reports_leftovers(tmp_path, clean_env):
    with Sandbox(tmp_path) as sb:
        info = sb.info
        use_profiles(clean_env, info)
        c_ec2 = client(CONSUMER_PROFILE, "ec2")
        sg = c_ec2.create_security_group(GroupName="xacct-endpoint-sg", Description="x", VpcId=info.vpc_id)
        ep = c_ec2.create_vpc_endpoint(
            VpcEndpointType="Interface",
            VpcId=info.vpc_id,
            ServiceName=f"com.amazonaws.{REGION}.rds-data",
            SubnetIds=list(info.subnet_ids),
            SecurityGroupIds=[sg["GroupId"]],
        )["VpcEndpoint"]
        iam = client(PROVIDER_PROFILE, "iam")
        iam.create_role(RoleName="xacct-data-api", AssumeRolePolicyDocument="{}")
        iam.create_role(RoleName="unrelated", AssumeRolePolicyDocument="{}")
        kms = client(PROVIDER_PROFILE, "kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        sm = client(PROVIDER_PROFILE, "secretsmanager")
        sm.create_secret(Name="xacct/app", SecretString="{}", KmsKeyId=key)

        left = resources_in_accounts(info)
        assert any(ep["VpcEndpointId"] in r for r in left["consumer"])
        assert any(sg["GroupId"] in r for r in left["consumer"])
        assert "iam:role/xacct-data-api" in left["provider"]
        assert not any("unrelated" in r for r in left["provider"])
        assert any(key in r for r in left["provider"])
        assert "secretsmanager:secret/xacct/app" in left["provider"]

        c_ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])
        c_ec2.delete_security_group(GroupId=sg["GroupId"])
        iam.delete_role(RoleName="xacct-data-api")
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        sm.delete_secret(SecretId="xacct/app", RecoveryWindowInDays=7)
        assert resources_in_accounts(info) == {"consumer": [], "provider": []}


# --------------------------------------------------------------------------- argument errors


def test_bad_engine_raises_value_error(tmp_path):
    with pytest.raises(ValueError) as e:
        Sandbox(tmp_path, engine="mysql")
    msg = str(e.value)
    assert "'mysql'" in msg and "aurora-mysql" in msg and "aurora-postgresql" in msg


def test_moto_missing_raises_sandbox_unavailable(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "moto.server", None)  # makes `import moto.server` fail
    with pytest.raises(SandboxUnavailable) as e:
        Sandbox(tmp_path).start()
    assert "pip install 'xacct[sandbox]'" in str(e.value)
    assert isinstance(e.value, Exception)
    assert not sbmod.Sandbox._active


def test_fresh_process_with_hostile_environment(tmp_path):
    """`xacct sandbox up` runs in a fresh process whose shell may carry AWS settings.

    A stale AWS_PROFILE used to crash moto's own region lookup (moto issue #5469);
    AWS_ENDPOINT_URL, static env keys, MOTO_ACCOUNT_ID and proxies must not leak into
    the sandbox. Every "wrong" address is a loopback port that counts the connections
    it gets and drops them: a leak shows as a count, without leaving 127.0.0.1 (and
    without timing the start, which a loaded machine makes slow).
    """
    import os
    import subprocess
    import textwrap
    import threading

    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(16)
    dead = f"http://127.0.0.1:{trap.getsockname()[1]}"
    attempts = []

    def count_and_drop() -> None:
        while True:
            try:
                conn, _ = trap.accept()
            except OSError:  # closed at the end of the test
                return
            attempts.append(True)
            conn.close()

    threading.Thread(target=count_and_drop, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env.update(
        AWS_PROFILE="does-not-exist",
        AWS_DEFAULT_PROFILE="does-not-exist-either",
        AWS_ACCESS_KEY_ID="AKIAENVIRONMENTKEY00",
        AWS_SECRET_ACCESS_KEY="env-secret",
        AWS_ENDPOINT_URL=dead,
        HTTP_PROXY=dead,
        HTTPS_PROXY=dead,
        MOTO_ACCOUNT_ID="333333333333",
    )
    script = textwrap.dedent(
        """
        import json, os, sys
        import botocore.session
        from botocore.config import Config
        from xacct_dataapi.sandbox import Sandbox, resources_in_accounts
        with Sandbox(sys.argv[1]) as sb:
            accounts = {}
            for p in (sb.info.consumer_profile, sb.info.provider_profile):
                s = botocore.session.Session(profile=p)
                s.set_config_variable("config_file", str(sb.info.config_file))
                s.set_config_variable("credentials_file", str(sb.info.credentials_file))
                c = s.create_client("sts", endpoint_url=sb.info.endpoint_url, config=Config(proxies={}))
                accounts[p] = c.get_caller_identity()["Account"]
            left = resources_in_accounts(sb.info)
            env_after = {k: os.environ.get(k) for k in ("AWS_PROFILE", "MOTO_ACCOUNT_ID")}
        print(json.dumps({"accounts": accounts, "left": left, "env": env_after,
                          "moto_after": os.environ.get("MOTO_ACCOUNT_ID")}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,  # a sandbox start on a loaded CI machine (pytest-xdist workers share 2 CPUs)
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc["accounts"] == {CONSUMER_PROFILE: CONSUMER_ACCOUNT, PROVIDER_PROFILE: PROVIDER_ACCOUNT}
    assert doc["left"] == {"consumer": [], "provider": []}
    # AWS_PROFILE is only hidden during start(); MOTO_ACCOUNT_ID for the whole run
    assert doc["env"] == {"AWS_PROFILE": "does-not-exist", "MOTO_ACCOUNT_ID": None}
    assert doc["moto_after"] == "333333333333"
    trap.close()
    assert attempts == [], "something connected to the environment's AWS_ENDPOINT_URL or proxy"
