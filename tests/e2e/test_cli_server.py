"""End to end: the installed `xacct` CLI as a separate process, against `xacct sandbox up` (a real moto
server on 127.0.0.1 with two simulated accounts), using named profiles and real HTTP — as users run it.
Assertions are made on the AWS side, through each account's own profile."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.server



def xacct_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("xacct")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "xacct_dataapi"]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "XACCT_"))}
    env.update(extra or {})
    return env


def served_sandbox(home, *options):
    """`xacct sandbox up` in its own process (yields info, home, process); `xacct sandbox down` afterwards."""
    from xacct_dataapi.sandbox import SandboxInfo

    sdir = home / "sandbox"
    env = clean_env({"AWS_CONFIG_FILE": str(home / "none-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "none-creds")})
    proc = subprocess.Popen([*xacct_cmd(), "sandbox", "up", "--dir", str(sdir), *options], env=env, cwd=home,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    info_path = sdir / "sandbox.json"
    deadline = time.monotonic() + 60
    while not info_path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"sandbox did not start: {proc.stdout.read()}")
        time.sleep(0.1)
    time.sleep(0.2)
    info = SandboxInfo.from_json(json.loads(info_path.read_text()))
    yield info, home, proc
    down = subprocess.run([*xacct_cmd(), "sandbox", "down", "--dir", str(sdir)], env=env, cwd=home,
                          capture_output=True, text=True, timeout=30)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        pytest.fail("sandbox did not stop on `xacct sandbox down`")
    assert down.returncode == 0, down.stderr
    assert not info_path.exists()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    yield from served_sandbox(tmp_path_factory.mktemp("e2e"))


@pytest.fixture(scope="module")
def realistic_sandbox(tmp_path_factory):
    """AWS's settling times, scaled down: endpoint pending 2 s, new principals invalid 0.5 s, ENIs lingering 1 s,
    a deleted secret's name blocked 0.5 s, the Data API switch 0.3 s; 5 ms per request."""
    yield from served_sandbox(tmp_path_factory.mktemp("e2e-real"), "--realistic", "--latency-ms", "5", "--time-scale", "0.1")


def run(info, home, *args, password: bool = True, check: bool = True):
    """The CLI as the operator runs it; setup gets the DB user's password that `sandbox up` seeded its PostgreSQL with."""
    extra = dict(info.env())
    secret = info.db_password()
    if password:
        extra["XACCT_DB_PASSWORD"] = secret
    res = subprocess.run([*xacct_cmd(), *args], env=clean_env(extra), cwd=home, capture_output=True, text=True, timeout=120)
    assert secret and secret not in res.stdout + res.stderr
    if check:
        assert res.returncode == 0, f"{args}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def sessions(info, monkeypatch):
    for k, v in info.env().items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)
    return boto3.Session(profile_name=info.consumer_profile), boto3.Session(profile_name=info.provider_profile)


def setup_args(info, name):
    return ["setup", "--consumer-profile", info.operator_consumer_profile,
            "--provider-profile", info.operator_provider_profile,
            "--cluster", info.cluster_id, "--vpc", info.vpc_id, "--subnets", ",".join(info.subnet_ids),
            "--enable-data-api", "--name", name]


def test_setup_status_rerun_verify_teardown(sandbox, monkeypatch):
    info, home, _ = sandbox
    consumer, provider = sessions(info, monkeypatch)
    assert consumer.client("sts").get_caller_identity()["Account"] == info.consumer_account
    assert provider.client("sts").get_caller_identity()["Account"] == info.provider_account

    plan = json.loads(run(info, home, *setup_args(info, "e2e"), "--dry-run", "--output", "json").stdout)
    assert plan["accounts"] == {"consumer": info.consumer_account, "provider": info.provider_account}
    assert not (home / ".xacct" / "e2e.json").exists()

    run(info, home, *setup_args(info, "e2e"), "--yes")
    state = json.loads((home / ".xacct" / "e2e.json").read_text())
    assert oct((home / ".xacct" / "e2e.json").stat().st_mode & 0o777) == "0o600"
    assert info.db_password() not in json.dumps(state)

    # Provider side: the role, its trust, its tags, the key, the secret — and none of it in the consumer account.
    iam_p = provider.client("iam")
    role = iam_p.get_role(RoleName="xacct-e2e-data-api-access")["Role"]
    stmt = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert stmt["Principal"] == {"AWS": f"arn:aws:iam::{info.consumer_account}:root"}
    assert stmt["Condition"]["StringEquals"]["sts:ExternalId"] == state["values"]["external_id"]
    assert {"Key": "xacct:deployment", "Value": "e2e"} in role["Tags"]
    perms = iam_p.get_role_policy(RoleName="xacct-e2e-data-api-access", PolicyName="xacct-e2e-data-api")["PolicyDocument"]
    assert all(s["Resource"] != "*" for s in perms["Statement"])
    assert consumer.client("iam").list_roles()["Roles"] == []
    secret = provider.client("secretsmanager").describe_secret(SecretId="xacct-e2e/db-credentials")
    assert secret["KmsKeyId"] == state["values"]["key_arn"]
    key_policy = json.loads(provider.client("kms").get_key_policy(KeyId=state["values"]["key_id"], PolicyName="default")["Policy"])
    assert key_policy["Statement"][1]["Principal"] == {"AWS": f"arn:aws:iam::{info.provider_account}:root"}
    assert key_policy["Statement"][1]["Condition"]["ArnEquals"] == {
        "aws:PrincipalArn": f"arn:aws:iam::{info.provider_account}:role/xacct/{info.region}/{info.cluster_id}/xacct-e2e-data-api-access"}
    assert provider.client("rds").describe_db_clusters()["DBClusters"][0]["HttpEndpointEnabled"] is True
    # Consumer side: the endpoint, in the VPC, with the group and private DNS.
    eps = consumer.client("ec2").describe_vpc_endpoints(Filters=[{"Name": "tag:xacct:deployment", "Values": ["e2e"]}])["VpcEndpoints"]
    live = [e for e in eps if e["State"].lower() != "deleted"]
    assert len(live) == 1 and live[0]["VpcId"] == info.vpc_id and live[0]["PrivateDnsEnabled"]
    assert live[0]["ServiceName"] == f"com.amazonaws.{info.region}.rds-data"
    assert sorted(live[0]["SubnetIds"]) == sorted(info.subnet_ids)
    assert provider.client("ec2").describe_vpc_endpoints()["VpcEndpoints"] == []

    status = json.loads(run(info, home, "status", "--name", "e2e", "--output", "json").stdout)
    assert [s["status"] for s in status["steps"]] == ["done"] * 8
    # doctor against the sandbox server: healthy (exit 0); SimulatePrincipalPolicy, which the sandbox answers with its
    # evaluator (docs/sandbox.md), gives a result, not a skip; the Serverless v2 cluster has its db.serverless writer.
    checks = {c["id"]: c["status"] for c in json.loads(run(info, home, "doctor", "--name", "e2e", "--output", "json").stdout)["checks"]}
    assert checks["iam.simulate"] == "ok" and checks["cluster.writer-class"] == "ok"
    assert "fail" not in checks.values()

    rerun = run(info, home, *setup_args(info, "e2e"), "--yes", "--output", "json", password=False)
    assert '"calls_made": []' in rerun.stdout

    verified = json.loads(run(info, home, "verify", "--name", "e2e", "--output", "json").stdout)
    assert verified["rows"] == [["app_user"]] and verified["database"] == "app"  # SELECT current_user
    assert verified["role_arn"] == role["Arn"]

    run(info, home, "teardown", "--name", "e2e", "--yes")
    assert not (home / ".xacct" / "e2e.json").exists()
    from xacct_dataapi.sandbox import resources_in_accounts

    assert resources_in_accounts(info) == {"consumer": [], "provider": []}
    assert provider.client("rds").describe_db_clusters()["DBClusters"][0]["HttpEndpointEnabled"] is False
    again = run(info, home, "teardown", "--name", "e2e", "--yes", check=False)  # gone: no deployment of that name
    assert again.returncode == 2 and "No deployment named 'e2e'" in " ".join(again.stderr.split()), again.stderr


def test_sandbox_up_offers_the_operator_and_the_admin_profiles(sandbox):
    """`sandbox up` says which profiles hold only the generated policies (run xacct as them) and which are admins."""
    info, _home, proc = sandbox
    printed = ""
    while "Stop it with" not in printed:
        line = proc.stdout.readline()
        assert line, printed
        printed += line
    flat = " ".join(printed.split())
    assert f"{info.operator_consumer_profile} / {info.operator_provider_profile}, an operator" in flat
    assert "`xacct permissions --for all`" in flat and f"{info.consumer_profile} / {info.provider_profile}, an administrator" in flat
    assert "--consumer-profile xacct-operator-consumer" in flat  # the setup command it suggests runs as the operator


def test_second_sandbox_up_on_the_same_dir_is_refused(sandbox):
    info, home, proc = sandbox
    res = subprocess.run([*xacct_cmd(), "sandbox", "up", "--dir", str(info.dir)], env=clean_env(), cwd=home,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "already running" in res.stderr and str(proc.pid) in res.stderr
    assert proc.poll() is None  # the first one keeps serving


def test_bad_profile_is_a_usage_error(sandbox):
    info, home, _ = sandbox
    args = setup_args(info, "bad")
    args[args.index(info.operator_consumer_profile)] = "does-not-exist"
    res = run(info, home, *args, "--yes", check=False)
    assert res.returncode == 2
    assert "does-not-exist" in res.stderr and "Traceback" not in res.stderr


def test_demo_exits_zero_and_leaves_nothing(tmp_path):
    res = subprocess.run([*xacct_cmd(), "demo", "--output", "json", "--verbose"], env=clean_env(), cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ec2:create_vpc_endpoint" in res.stderr  # --verbose: the full plan (and the progress) on stderr
    summary = json.loads(res.stdout)
    assert summary["ok"] is True
    assert summary["leftovers"] == {"consumer": [], "provider": []}
    assert [p["ok"] for p in summary["phases"]] == [True] * len(summary["phases"])
    assert {c["kind"] for c in summary["created"]} >= {"kms_key", "secret", "iam_role", "iam_user", "security_group", "vpc_endpoint"}


def test_demo_fits_one_screen_at_80_columns(tmp_path):
    """The trial: `make demo` printed 441 lines at 80 columns, the plan twice. By default: the plan once (a line per
    step), each phase with its time, the SELECT's rows, the summary; at most 60 lines, none wider than 80."""
    res = subprocess.run([*xacct_cmd(), "demo"], env=clean_env({"COLUMNS": "80"}), cwd=tmp_path,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = (res.stderr + res.stdout).splitlines()
    assert len(lines) <= 60, "\n".join(lines)
    assert [line for line in lines if len(line) > 80] == []
    assert sum(line.startswith("Plan:") for line in lines) == 1
    for phase in ("plan (dry run)", "setup", "SELECT through the assumed role", "teardown", "nothing left behind"):
        assert any(line.strip().startswith(f"✓ {phase} (") and line.rstrip().endswith("s)") for line in lines), phase
    row = next(line for line in lines if "hello from the provider account" in line)
    assert row.startswith("│") and "app_user" in row  # the SQL result, as a table


def test_setup_verify_teardown_against_a_realistic_sandbox(realistic_sandbox, monkeypatch):
    """xacct's own retries and waits carry it through AWS's settling times (pending endpoint, new principals not yet
    valid, ENIs holding the security group, a blocked secret name), twice in a row under the same name."""
    info, home, _ = realistic_sandbox
    consumer, provider = sessions(info, monkeypatch)
    from xacct_dataapi.sandbox import resources_in_accounts

    for _cycle in range(2):
        run(info, home, *setup_args(info, "real"), "--yes")
        status = json.loads(run(info, home, "status", "--name", "real", "--output", "json").stdout)
        assert [s["status"] for s in status["steps"]] == ["done"] * 8
        verified = json.loads(run(info, home, "verify", "--name", "real", "--output", "json").stdout)
        assert verified["rows"] == [["app_user"]]
        run(info, home, "teardown", "--name", "real", "--yes")
        assert resources_in_accounts(info) == {"consumer": [], "provider": []}
        assert provider.client("rds").describe_db_clusters()["DBClusters"][0]["HttpEndpointEnabled"] is False
