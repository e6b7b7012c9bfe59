"""The hand-off end to end: the installed CLI as a subprocess against a sandbox served from this test process, so
the sandbox's record of every rds-data request (sandbox/rdsdata.py) can be asserted on: what the application's
clients and `verify` actually sent, as whom."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import boto3
from botocore.exceptions import ClientError
import pytest

from tests.e2e.test_cli_server import clean_env, xacct_cmd
from xacct_dataapi.sandbox import Sandbox, operators
from xacct_dataapi.sandbox.rdsdata import recorded_calls

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("connect") / "sandbox") as sandbox:
        yield sandbox.info


@pytest.fixture
def home(tmp_path, sb, monkeypatch):
    """The test's directory, with this process's AWS profiles pointed at the sandbox (boto3 calls in the test)."""
    for k, v in sb.env().items():
        monkeypatch.setenv(k, v)
    return tmp_path


def run(sb, home, *args, env: dict | None = None, code: int | None = 0):
    """The CLI as the operator runs it, with the DB user's password the sandbox seeded its PostgreSQL with."""
    password = sb.db_password()
    extra = {**sb.env(), "XACCT_DB_PASSWORD": password, **(env or {})}
    res = subprocess.run([*xacct_cmd(), *args], env=clean_env(extra), cwd=home, capture_output=True, text=True,
                         timeout=120)
    assert password and password not in res.stdout + res.stderr
    if code is not None:
        assert res.returncode == code, f"{args}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def setup(sb, home, name, *extra):
    run(sb, home, "setup", "--consumer-profile", sb.operator_consumer_profile,
        "--provider-profile", sb.operator_provider_profile,
        "--cluster", sb.cluster_id, "--vpc", sb.vpc_id, "--subnets", ",".join(sb.subnet_ids), "--enable-data-api",
        "--name", name, "--yes", *extra)
    return json.loads((home / ".xacct" / f"{name}.json").read_text())


def calls_since(sb, mark: int, operation: str | None = None) -> list[dict]:
    calls = recorded_calls(sb.provider_account, sb.region)[mark:]
    return [c for c in calls if operation is None or c["operation"] == operation]


def mark(sb) -> int:
    return len(recorded_calls(sb.provider_account, sb.region))


def teardown(sb, home, name):
    run(sb, home, "teardown", "--name", name, "--yes")


def app_profile_files(sb, home, user: str) -> dict[str, str]:
    """Copies of the sandbox's config and credentials plus a profile `app` holding a key of the consumer user, as
    the application team would have it."""
    admin = boto3.Session(profile_name=sb.consumer_profile)
    key = admin.client("iam").create_access_key(UserName=user)["AccessKey"]
    cfg, creds = home / "app-config", home / "app-credentials"
    cfg.write_text(sb.config_file.read_text() + f"\n[profile app]\nregion = {sb.region}\nendpoint_url = {sb.endpoint_url}\n")
    creds.write_text(sb.credentials_file.read_text() + f"\n[app]\naws_access_key_id = {key['AccessKeyId']}\n"
                                                        f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    return {"AWS_CONFIG_FILE": str(cfg), "AWS_SHARED_CREDENTIALS_FILE": str(creds)}


def test_created_user_profile_python_sqlalchemy_and_verify(sb, home, monkeypatch):
    state = setup(sb, home, "conn")
    v = state["values"]
    assert v["database"] == "app" and v["cluster_engine"] == "aurora-postgresql"
    handoff = json.loads(run(sb, home, "status", "--name", "conn", "--output", "json").stdout)["handoff"]
    assert handoff == {"role_arn": v["access_role_arn"], "external_id": v["external_id"], "region": sb.region,
                       "cluster_arn": v["cluster_arn"], "secret_arn": v["secret_arn"], "database": "app",
                       "consumer_principal": v["consumer_principal_arn"], "next": "xacct connect --name conn"}
    text = run(sb, home, "connect", "--name", "conn").stdout
    for value in (v["access_role_arn"], v["external_id"], v["cluster_arn"], v["secret_arn"], "app",
                  v["consumer_principal_arn"]):
        assert value in text
    assert all(len(line) <= 80 or line.strip().startswith("arn:") for line in text.splitlines()), text

    # The profile, written twice into the application's config: one section, a backup, and it works with boto3.
    files = app_profile_files(sb, home, "xacct-conn-data-api-client")
    for _ in range(2):
        run(sb, home, "connect", "--name", "conn", "--format", "profile", "--source-profile", "app", "--write", env=files)
    cfg = home / "app-config"
    assert cfg.read_text().count("[profile xacct-conn]") == 1
    assert (home / "app-config.xacct-backup").exists()
    for k, val in files.items():
        monkeypatch.setenv(k, val)
    app = boto3.Session(profile_name="xacct-conn")
    assert app.client("sts").get_caller_identity()["Arn"].startswith(
        f"arn:aws:sts::{sb.provider_account}:assumed-role/xacct-conn-data-api-access/")
    m = mark(sb)
    out = app.client("rds-data").execute_statement(resourceArn=v["cluster_arn"], secretArn=v["secret_arn"],
                                                   database=v["database"], sql="SELECT 1")
    assert out["records"] == [[{"longValue": 1}]]

    # The python snippet, run as printed: aurora-data-api opens a transaction, runs the statement, commits.
    snippet = run(sb, home, "connect", "--name", "conn", "--format", "python").stdout
    res = subprocess.run([sys.executable, "-c", snippet], env=clean_env(files), cwd=home, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[('app_user',)]"  # the secret's username: the Data API logged in as it
    ops = [(c["operation"], c.get("database")) for c in calls_since(sb, m)]
    assert ops[1:] == [("BeginTransaction", "app"), ("ExecuteStatement", "app"), ("CommitTransaction", None)]

    # verify: as the created user (temporary key), in the recorded database, and it says so.
    m = mark(sb)
    verified = json.loads(run(sb, home, "verify", "--name", "conn", "--output", "json").stdout)
    assert verified["principal"] == v["consumer_principal_arn"]
    assert verified["sql"] == "SELECT current_user"
    assert verified["database"] == "app" and verified["rows"] == [["app_user"]] and verified["columns"] == ["current_user"]
    assert [c["database"] for c in calls_since(sb, m, "ExecuteStatement")] == ["app"]
    teardown(sb, home, "conn")


def test_sqlalchemy_snippet_runs(sb, home, monkeypatch):
    state = setup(sb, home, "sqla")
    files = app_profile_files(sb, home, "xacct-sqla-data-api-client")
    run(sb, home, "connect", "--name", "sqla", "--format", "profile", "--source-profile", "app", "--write", env=files)
    snippet = run(sb, home, "connect", "--name", "sqla", "--format", "sqlalchemy").stdout
    assert "postgresql+auroradataapi://:@/app" in snippet and "_detect_charset" not in snippet
    m = mark(sb)
    res = subprocess.run([sys.executable, "-c", snippet], env=clean_env(files), cwd=home, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[('app_user',)]"
    assert {c.get("database") for c in calls_since(sb, m, "ExecuteStatement")} == {"app"}
    assert state["values"]["database"] == "app"
    teardown(sb, home, "sqla")


def _role(sb, name: str, trusted: dict) -> str:
    iam = boto3.Session(profile_name=sb.consumer_profile).client("iam")
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": trusted, "Action": "sts:AssumeRole"}]}
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]


def test_verify_acts_as_the_adopted_role_or_refuses(sb, home, monkeypatch):
    # The trust policy names the account, so the operator's own identity policy decides: the generated
    # `xacct permissions --consumer-role app-role` (sts:AssumeRole on it, for verify).
    role_arn = _role(sb, "app-role", {"AWS": f"arn:aws:iam::{sb.consumer_account}:root"})
    operators.grant(sb, consumer_role="app-role")
    setup(sb, home, "adopt", "--consumer-role", "app-role")
    verified = json.loads(run(sb, home, "verify", "--name", "adopt", "--output", "json").stdout)
    assert verified["principal"].startswith(f"arn:aws:sts::{sb.consumer_account}:assumed-role/app-role/")
    teardown(sb, home, "adopt")  # one rds-data endpoint per VPC

    # A role the operator cannot assume (its trust admits another user): exit 2, says what to pass, never OK.
    _role(sb, "ec2-app-role", {"AWS": f"arn:aws:iam::{sb.consumer_account}:user/the-application"})
    operators.grant(sb, consumer_role="ec2-app-role")
    setup(sb, home, "ec2", "--consumer-role", "ec2-app-role")
    res = run(sb, home, "verify", "--name", "ec2", code=2)  # the sandbox checks the trust policy, as AWS does
    assert "OK" not in res.stdout and "--as-profile" in res.stderr and "ec2-app-role" in res.stderr
    # --as-profile of another principal is refused too, naming who it is.
    res = run(sb, home, "verify", "--name", "ec2", "--as-profile", sb.consumer_profile, code=2)
    assert "xacct-sandbox-admin" in res.stderr and "OK" not in res.stdout
    assert role_arn
    teardown(sb, home, "ec2")
    operators.grant(sb)  # back to the seeded `--for all`


def test_verify_refuses_after_the_role_policy_is_deleted(sb, home):
    setup(sb, home, "gone")
    iam = boto3.Session(profile_name=sb.provider_profile).client("iam")
    iam.delete_role_policy(RoleName="xacct-gone-data-api-access", PolicyName="xacct-gone-data-api")
    m = mark(sb)
    res = run(sb, home, "verify", "--name", "gone", code=1)
    assert "OK" not in res.stdout and "5 " in res.stderr and "status" in res.stderr
    assert calls_since(sb, m) == []  # refused before any statement
    teardown(sb, home, "gone")


def test_a_wrong_password_in_the_secret_fails_verify_and_doctor_names_the_secret(sb, home):
    """The sandbox's Data API logs in with the secret's username and password: a wrong password put in the secret by
    hand fails as the Data API fails (the database's message), and both verify and doctor point at the secret."""
    state = setup(sb, home, "wrongpw")
    secret_arn = state["values"]["secret_arn"]
    sm = boto3.Session(profile_name=sb.provider_profile).client("secretsmanager")
    # The provider's admin may not read the secret (its policy denies everyone but the access role), but may write it.
    with pytest.raises(ClientError, match="AccessDenied"):
        sm.get_secret_value(SecretId=secret_arn)
    doc = {"username": "app_user", "password": "typed-by-hand-wrong", "engine": "postgres", "dbname": "app"}
    sm.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(doc))

    res = run(sb, home, "verify", "--name", "wrongpw", code=1)
    assert 'password authentication failed for user "app_user"' in res.stderr and secret_arn in res.stderr
    assert "--rotate-password" in res.stderr and "Traceback" not in res.stderr

    report = json.loads(run(sb, home, "doctor", "--name", "wrongpw", "--live", "--output", "json", code=None).stdout)
    live = next(c for c in report["checks"] if c["id"] == "live.statement")
    assert live["status"] == "fail", live
    assert "secret" in live["evidence"].split(".")[0] and secret_arn in live["evidence"], live

    # Put right again (as an operator would, with setup's --rotate-password): verify passes and says who it is.
    run(sb, home, "setup", "--consumer-profile", sb.operator_consumer_profile,
        "--provider-profile", sb.operator_provider_profile,
        "--cluster", sb.cluster_id, "--vpc", sb.vpc_id, "--subnets", ",".join(sb.subnet_ids), "--enable-data-api",
        "--name", "wrongpw", "--yes", "--rotate-password")
    verified = json.loads(run(sb, home, "verify", "--name", "wrongpw", "--output", "json").stdout)
    assert verified["rows"] == [["app_user"]]
    teardown(sb, home, "wrongpw")
