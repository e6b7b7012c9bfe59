"""--create-db-user, `xacct rotate` and the user's teardown, in the sandbox's real PostgreSQL (issue 28).

Everything is asserted where it lands: the application's own path (verify: the consumer principal, the access role,
the Data API) for what the user may do; the database's catalogue, read as the cluster's admin through the Data API,
for the user, its comment and its grants; Secrets Manager's staging labels for the rotation protocol. The password
itself is read only by this test (straight from the sandbox's Secrets Manager), to prove it appears nowhere else and
that the previous one no longer logs in."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from tests.e2e.test_connect import home, sb  # noqa: F401  (the module's sandbox, as test_connect makes it)
from tests.helpers.counting import ProcedureCalls
from tests.helpers.hooks import CallHooks, Killed
from xacct_dataapi import procedures
from xacct_dataapi.cli import cli
from xacct_dataapi.sandbox.rdsdata import recorded_calls

pytestmark = [pytest.mark.server, pytest.mark.usefixtures("fast_aws")]


@pytest.fixture
def here(home, monkeypatch):
    """test_connect's home (the sandbox's profiles in this process), as the working folder: the state files go there."""
    monkeypatch.chdir(home)
    return home


def xacct(*args: str, code: int = 0):
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == code, f"{args}: exit {res.exit_code}\n{res.output}"
    return res


@pytest.fixture(scope="module", autouse=True)
def operators_may_make_db_users(sb):
    """The administrator's `xacct permissions --for all --create-db-user` for the sandbox's operators: setup, rotate,
    verify and teardown run as them (the test's own looks use the admin profiles: provider(), as_admin())."""
    from xacct_dataapi.sandbox import operators

    operators.grant(sb, create_db_user=True)


def setup(sb, name: str, *extra: str, code: int = 0):
    return xacct("setup", "--consumer-profile", sb.operator_consumer_profile,
                 "--provider-profile", sb.operator_provider_profile,
                 "--cluster", sb.cluster_id, "--vpc", sb.vpc_id, "--subnets", ",".join(sb.subnet_ids),
                 "--enable-data-api", "--name", name, "--yes", *extra, code=code)


def state_of(home: Path, name: str) -> dict:
    return json.loads((home / ".xacct" / f"{name}.json").read_text())


def provider(sb, service: str):
    return boto3.Session(profile_name=sb.provider_profile).client(service)


def as_admin(sb, sql: str, **params: str) -> list[list]:
    """A statement as the cluster's admin, through the Data API with the cluster's managed master user secret."""
    cluster = provider(sb, "rds").describe_db_clusters(DBClusterIdentifier=sb.cluster_id)["DBClusters"][0]
    out = provider(sb, "rds-data").execute_statement(
        resourceArn=cluster["DBClusterArn"], secretArn=cluster["MasterUserSecret"]["SecretArn"], database="app", sql=sql,
        parameters=[{"name": k, "value": {"stringValue": v}} for k, v in params.items()])
    return [[next(iter(f.values())) for f in row] for row in out.get("records", [])]


def secret_value(sb, secret_arn: str, stage: str) -> dict:
    """The test's own look at a version (the operator cannot: the secret policy denies GetSecretValue)."""
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[sb.provider_account][sb.region]
    return json.loads(backend.get_secret_value(secret_arn, None, stage)["SecretString"])


def stages(sb, secret_arn: str) -> dict[str, list[str]]:
    versions = provider(sb, "secretsmanager").list_secret_version_ids(SecretId=secret_arn)["Versions"]
    return {v["VersionId"]: sorted(v.get("VersionStages", [])) for v in versions}


def as_app(name: str, sql: str, code: int = 0) -> dict | str:
    """The statement as the application: verify acts as the consumer principal and assumes the access role."""
    res = xacct("verify", "--name", name, "--sql", sql, "--output", "json", code=code)
    return json.loads(res.output) if code == 0 else res.output


def logs_in(sb, state: dict, password: str) -> bool:
    """Does this password log the deployment's user in? Through the Data API, with a secret of the test's own."""
    sm, name = provider(sb, "secretsmanager"), f"probe-{abs(hash(password)) % 10**8}"
    arn = sm.create_secret(Name=name, SecretString=json.dumps({"username": state["config"]["db_user"],
                                                                "password": password}))["ARN"]
    try:
        provider(sb, "rds-data").execute_statement(resourceArn=state["values"]["cluster_arn"], secretArn=arn,
                                                   database="app", sql="SELECT 1")
        return True
    except ClientError as exc:
        assert "password authentication failed" in exc.response["Error"]["Message"]
        return False
    finally:
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def everything_written(home: Path, sb, outputs: list[str]) -> str:
    files = [p for root in (home, Path(sb.dir)) for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    texts = [p.read_bytes().decode("utf-8", "replace") for p in files if p.stat().st_size < 5_000_000]
    sent = json.dumps(recorded_calls(sb.provider_account, sb.region))
    return "\n".join([*outputs, *texts, sent])


def test_read_user_can_select_not_insert_and_nobody_sees_the_password(sb, here):
    out = setup(sb, "reader", "--db-user", "app_reader", "--create-db-user", "--db-access", "read",
                "--db-schema", "public").output
    state = state_of(here, "reader")
    secret_arn = state["values"]["secret_arn"]
    assert as_app("reader", "SELECT current_user")["rows"] == [["app_reader"]]
    assert as_app("reader", "SELECT count(*) FROM greetings")["rows"][0][0] >= 2
    denied = as_app("reader", "INSERT INTO greetings (message) VALUES ('no')", code=1)
    assert "permission denied" in denied
    # The database's side, as the admin: the user, the comment that says xacct made it, exactly the grants asked for.
    assert as_admin(sb, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = 'app_reader'") == [
        ["xacct:deployment=reader"]]
    grants = as_admin(sb, "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                          "WHERE grantee = 'app_reader'")
    assert grants == [["greetings", "SELECT"]]
    # The rotation protocol's end state: one version holds AWSCURRENT and AWSPENDING (the database has it).
    assert ["AWSCURRENT", "AWSPENDING"] in stages(sb, secret_arn).values()
    password = secret_value(sb, secret_arn, "AWSCURRENT")["password"]
    assert len(password) == 32 and logs_in(sb, state, password)
    assert password not in everything_written(here, sb, [out])
    # export: the secret as GenerateSecretString, and the SQL step CloudFormation cannot do, named.
    xacct("export", "--name", "reader", "--out", str(here / "cfn"), "--format", "json")
    provider_doc = json.loads((here / "cfn" / "provider.json").read_text())
    assert "GenerateSecretString" in provider_doc["Resources"]["Secret"]["Properties"]
    assert "xacct setup --create-db-user" in provider_doc["Metadata"]["xacct"]["not_in_template"]["db_user"]
    # A re-run changes nothing.
    again = setup(sb, "reader").output
    assert "No changes" in again and stages(sb, secret_arn) == stages(sb, secret_arn)


def test_grants_are_desired_state(sb, here):
    setup(sb, "grants", "--db-user", "app_grants", "--create-db-user", "--db-access", "write", "--db-schema", "public")
    assert as_app("grants", "INSERT INTO greetings (message) VALUES ('from grants')")["rows"] == []
    # Drift made by hand (a grant nobody asked for) shows in status; the next setup revokes it.
    as_admin(sb, "GRANT TRUNCATE ON greetings TO app_grants")
    status = json.loads(xacct("status", "--name", "grants", "--output", "json", code=1).output)
    assert "not asked for: TRUNCATE ON TABLE public.greetings" in json.dumps(status)
    doctor = json.loads(xacct("doctor", "--name", "grants", "--output", "json", code=1).output)
    check = next(c for c in doctor["checks"] if c["id"] == "db.user")
    assert check["status"] == "fail" and "TRUNCATE ON TABLE public.greetings" in check["evidence"]
    setup(sb, "grants", "--db-access", "read")  # narrower: INSERT, UPDATE, DELETE and the TRUNCATE go
    rows = as_admin(sb, "SELECT privilege_type FROM information_schema.role_table_grants WHERE grantee = 'app_grants'")
    assert rows == [["SELECT"]]
    doctor = json.loads(xacct("doctor", "--name", "grants", "--output", "json").output)
    assert next(c for c in doctor["checks"] if c["id"] == "db.user")["status"] == "ok"
    assert "permission denied" in as_app("grants", "INSERT INTO greetings (message) VALUES ('no')", code=1)


def test_rotate_old_password_fails_app_works(sb, here):
    setup(sb, "rot", "--db-user", "app_rot", "--create-db-user", "--db-access", "read")
    state = state_of(here, "rot")
    old = secret_value(sb, state["values"]["secret_arn"], "AWSCURRENT")["password"]
    out = xacct("rotate", "--name", "rot", "--yes").output
    new = secret_value(sb, state["values"]["secret_arn"], "AWSCURRENT")["password"]
    assert new != old and not logs_in(sb, state, old) and logs_in(sb, state, new)
    assert as_app("rot", "SELECT current_user")["rows"] == [["app_rot"]]
    assert old not in out and new not in out
    assert secret_value(sb, state["values"]["secret_arn"], "AWSPREVIOUS")["password"] == old
    # status: in step, and when the password was last rotated (AWSCURRENT's CreatedDate, as Secrets Manager has it)
    status = xacct("status", "--name", "rot", "--output", "json").output
    assert "password last rotated 20" in status


SECRET_CHANGES = ("provider:secretsmanager.PutSecretValue", "provider:secretsmanager.UpdateSecretVersionStage")
SQL_CHANGES = ("DO ", "ALTER ROLE", "GRANT ", "REVOKE ")


def change_points(sb, hooks: CallHooks, mark: int) -> list[tuple[str, int]]:
    """Every change a clean run made, as CallHooks' kill_on: (label, its n-th occurrence). The statements through the
    Data API are told apart by their SQL, from the sandbox's record of what was sent (reads are not crash points)."""
    sent = [c["sql"] for c in recorded_calls(sb.provider_account, sb.region)[mark:] if c["operation"] == "ExecuteStatement"]
    points, statements = [], 0
    for n, label in enumerate(hooks.calls):
        if label == "provider:rds-data.ExecuteStatement":
            statements += 1
            if sent[statements - 1].startswith(SQL_CHANGES):
                points.append((label, statements))
        elif label in SECRET_CHANGES:
            points.append((label, hooks.calls[:n + 1].count(label)))
    return points


def test_a_kill_after_each_call_of_the_rotation_converges(sb, here, monkeypatch):
    setup(sb, "crash", "--db-user", "app_crash", "--create-db-user", "--db-access", "read")
    state = state_of(here, "crash")
    secret = state["values"]["secret_arn"]
    hooks, mark = CallHooks().install(monkeypatch), len(recorded_calls(sb.provider_account, sb.region))
    xacct("rotate", "--name", "crash", "--yes")
    points = change_points(sb, hooks, mark)
    assert [label.split(".")[1] for label, _ in points] == ["PutSecretValue", "ExecuteStatement",
                                                            "UpdateSecretVersionStage"]
    for point in points:
        before = secret_value(sb, secret, "AWSCURRENT")["password"]
        hooks.revive()
        hooks.kill_on = point
        with pytest.raises(Killed):
            xacct("rotate", "--name", "crash", "--yes")
        hooks.revive()
        xacct("rotate", "--name", "crash", "--yes")
        current = secret_value(sb, secret, "AWSCURRENT")["password"]
        assert current != before and logs_in(sb, state, current) and not logs_in(sb, state, before), point
        assert as_app("crash", "SELECT current_user")["rows"] == [["app_crash"]]
        labels = stages(sb, secret)
        assert sum("AWSPENDING" in s for s in labels.values()) == 1 and ["AWSCURRENT", "AWSPENDING"] in labels.values()


def test_a_kill_after_each_call_of_the_creation_converges(sb, here, monkeypatch):
    hooks, mark = CallHooks().install(monkeypatch), len(recorded_calls(sb.provider_account, sb.region))
    flags = ("--create-db-user", "--db-access", "write")
    setup(sb, "mk0", "--db-user", "app_mk0", *flags)
    points = change_points(sb, hooks, mark)
    assert [label.split(".")[1] for label, _ in points][:3] == ["PutSecretValue", "ExecuteStatement",
                                                                "UpdateSecretVersionStage"]
    # The protocol's three calls and the first grant (the others are the same kind of statement).
    first_grant = next(p for p in points[3:] if p[0].endswith("ExecuteStatement"))
    for n, point in enumerate([*points[:3], first_grant], 1):
        hooks.revive()
        hooks.kill_on = point
        with pytest.raises(Killed):
            setup(sb, f"mk{n}", "--db-user", f"app_mk{n}", *flags)
        hooks.revive()
        setup(sb, f"mk{n}")  # the same deployment again: its state file recorded every flag before the first change
        assert as_app(f"mk{n}", "SELECT current_user")["rows"] == [[f"app_mk{n}"]]
        assert as_admin(sb, "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = :u",
                        u=f"app_mk{n}") == as_admin(sb, "SELECT count(*) FROM information_schema.role_table_grants "
                                                        "WHERE grantee = 'app_mk0'")


def test_teardown_drops_the_user_it_made_and_keeps_others(sb, here, monkeypatch):
    called = ProcedureCalls().install(monkeypatch)
    setup(sb, "gone", "--db-user", "app_gone", "--create-db-user", "--db-access", "read")
    monkeypatch.setenv("XACCT_DB_PASSWORD", sb.db_password())
    setup(sb, "kept")  # the seeded app_user, whose password the DB admin handed over: not created by xacct
    # The cluster's Data API stays on while a deployment uses it, and this test reads the catalogue through it after
    # "kept", the last of its own deployments, is gone: a member of its own holds it on (not the module's other tests').
    setup(sb, "keeper", "--db-user", "app_keeper", "--create-db-user", "--db-access", "read")
    # A user that owns a table is not dropped: teardown stops with the list and how to reassign.
    as_admin(sb, "CREATE TABLE owned_by_gone (id int)")
    as_admin(sb, "ALTER TABLE owned_by_gone OWNER TO app_gone")
    out = xacct("teardown", "--name", "gone", "--yes", code=1).output
    assert "owned_by_gone" in out and "REASSIGN OWNED BY" in " ".join(out.split())  # errors wrap at spaces
    assert as_admin(sb, "SELECT count(*) FROM pg_roles WHERE rolname = 'app_gone'") == [[1]]
    as_admin(sb, "ALTER TABLE owned_by_gone OWNER TO postgres")
    xacct("teardown", "--name", "gone", "--yes")
    assert as_admin(sb, "SELECT count(*) FROM pg_roles WHERE rolname = 'app_gone'") == [[0]]
    assert as_admin(sb, "SELECT count(*) FROM owned_by_gone") == [[0]]  # the data stayed
    # The database user's procedures called only what they declare (procedures.py; tests/steps/test_plan_is_data.py
    # holds every other procedure to the same, against moto): the rotation protocol, the SQL, the drop.
    assert called.seen["db:converge_user"] >= {"secretsmanager:GetRandomPassword", "secretsmanager:PutSecretValue",
                                               "secretsmanager:UpdateSecretVersionStage", "rds-data:ExecuteStatement"}
    assert called.seen["rds-data:drop_user_unless_owner"] == {"rds-data:ExecuteStatement"}
    for name, actions in called.seen.items():
        assert actions <= set(procedures.actions_of(name)), (name, sorted(actions - set(procedures.actions_of(name))))
    xacct("teardown", "--name", "kept", "--yes")
    assert as_admin(sb, "SELECT count(*) FROM pg_roles WHERE rolname = 'app_user'") == [[1]]
    xacct("teardown", "--name", "keeper", "--yes")
