"""Every client the application team may use, with the hand-off from `xacct connect` and nothing queued: each runs a
SELECT that returns rows of a real table in the sandbox's PostgreSQL, a transaction that commits (its row is then
there) and one that rolls back (its row is absent), as the consumer principal through the assumed access role.

The clients are pinned in the test extra (pyproject.toml): AWS CLI, boto3, aurora-data-api, SQLAlchemy 2.x with
sqlalchemy-aurora-data-api, awswrangler."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from tests.e2e.test_cli_server import clean_env
from tests.e2e.test_connect import app_profile_files, run, setup, teardown
from xacct_dataapi.sandbox import Sandbox

pytestmark = pytest.mark.server

PROFILE = "xacct-clients"
FIRST_ROW = "hello from the provider account"  # the sandbox's example table (sandbox/database.py)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A sandbox, a deployment `clients`, and the application's profile written by `xacct connect --write`."""
    home = tmp_path_factory.mktemp("clients")
    with Sandbox(home / "sandbox") as sandbox, pytest.MonkeyPatch.context() as mp:
        sb = sandbox.info
        for k, v in sb.env().items():
            mp.setenv(k, v)
        values = setup(sb, home, "clients")["values"]
        files = app_profile_files(sb, home, "xacct-clients-data-api-client")
        run(sb, home, "connect", "--name", "clients", "--format", "profile", "--source-profile", "app", "--write",
            env=files)
        for k, v in files.items():
            mp.setenv(k, v)
        yield sb, home, values, files
        teardown(sb, home, "clients")


@pytest.fixture
def app(deployed, monkeypatch):
    sb, home, values, files = deployed
    for k, v in files.items():
        monkeypatch.setenv(k, v)
    return {**values, "files": files}


def marker(client: str) -> tuple[str, str]:
    """Two fresh messages: the one a client commits and the one it rolls back."""
    tag = uuid.uuid4().hex[:8]
    return f"{client} committed {tag}", f"{client} rolled back {tag}"


def messages(values: dict) -> list[str]:
    """The table's messages, read back as the provider's own admin would (boto3, not the client under test)."""
    rds_data = boto3.Session(profile_name=PROFILE).client("rds-data")
    out = rds_data.execute_statement(resourceArn=values["cluster_arn"], secretArn=values["secret_arn"],
                                     database=values["database"], sql="SELECT message FROM greetings ORDER BY id")
    return [row[0]["stringValue"] for row in out["records"]]


def assert_committed_only(values: dict, committed: str, rolled_back: str) -> None:
    found = messages(values)
    assert committed in found and rolled_back not in found, found


def test_aws_cli(app):
    aws = Path(sys.executable).with_name("aws")
    assert aws.exists(), "the AWS CLI (awscli) belongs to the test extra"
    base = ["--profile", PROFILE, "--output", "json"]
    arns = ["--resource-arn", app["cluster_arn"], "--secret-arn", app["secret_arn"]]

    def cli(*args: str) -> dict:
        res = subprocess.run([str(aws), "rds-data", *args, *arns, *base], env=clean_env(app["files"]),
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout) if res.stdout.strip() else {}

    out = cli("execute-statement", "--database", app["database"], "--include-result-metadata",
              "--sql", "SELECT id, message FROM greetings ORDER BY id")
    assert out["records"][0] == [{"longValue": 1}, {"stringValue": FIRST_ROW}]
    assert [c["name"] for c in out["columnMetadata"]] == ["id", "message"]
    committed, rolled_back = marker("aws-cli")
    for message, finish in ((committed, "commit-transaction"), (rolled_back, "rollback-transaction")):
        tid = cli("begin-transaction", "--database", app["database"])["transactionId"]
        inserted = cli("execute-statement", "--transaction-id", tid, "--sql", "INSERT INTO greetings (message) VALUES (:m)",
                       "--parameters", json.dumps([{"name": "m", "value": {"stringValue": message}}]))
        assert inserted["numberOfRecordsUpdated"] == 1
        cli(finish, "--transaction-id", tid)
    assert_committed_only(app, committed, rolled_back)


def test_boto3(app):
    rds_data = boto3.Session(profile_name=PROFILE).client("rds-data")
    where = {"resourceArn": app["cluster_arn"], "secretArn": app["secret_arn"]}
    out = rds_data.execute_statement(**where, database=app["database"], formatRecordsAs="JSON",
                                     sql="SELECT id, message FROM greetings WHERE id = :id",
                                     parameters=[{"name": "id", "value": {"longValue": 1}}])
    assert json.loads(out["formattedRecords"]) == [{"id": 1, "message": FIRST_ROW}]
    committed, rolled_back = marker("boto3")
    for message, finish in ((committed, rds_data.commit_transaction), (rolled_back, rds_data.rollback_transaction)):
        tid = rds_data.begin_transaction(**where, database=app["database"])["transactionId"]
        rds_data.execute_statement(**where, transactionId=tid, sql="INSERT INTO greetings (message) VALUES (:m)",
                                   parameters=[{"name": "m", "value": {"stringValue": message}}])
        finish(**where, transactionId=tid)
    assert_committed_only(app, committed, rolled_back)


def test_aurora_data_api(app):
    import aurora_data_api

    def connect():
        return aurora_data_api.connect(aurora_cluster_arn=app["cluster_arn"], secret_arn=app["secret_arn"],
                                       database=app["database"],
                                       rds_data_client=boto3.Session(profile_name=PROFILE).client("rds-data"))

    committed, rolled_back = marker("aurora-data-api")
    with connect() as conn:
        with conn.cursor() as cursor:
            cursor.execute("SELECT id, message FROM greetings ORDER BY id")
            assert cursor.fetchall()[0] == (1, FIRST_ROW)
            cursor.execute("INSERT INTO greetings (message) VALUES (:m)", {"m": committed})
        conn.commit()
    with connect() as conn:
        with conn.cursor() as cursor:
            cursor.execute("INSERT INTO greetings (message) VALUES (:m)", {"m": rolled_back})
        conn.rollback()
    assert_committed_only(app, committed, rolled_back)


def test_sqlalchemy_2(app):
    import sqlalchemy
    from sqlalchemy import create_engine, text

    assert sqlalchemy.__version__.startswith("2.")
    engine = create_engine(f"postgresql+auroradataapi://:@/{app['database']}", connect_args={
        "aurora_cluster_arn": app["cluster_arn"], "secret_arn": app["secret_arn"],
        "rds_data_client": boto3.Session(profile_name=PROFILE).client("rds-data")})
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, message, created_at FROM greetings ORDER BY id")).fetchall()
    assert rows[0][:2] == (1, FIRST_ROW) and rows[0][2]
    committed, rolled_back = marker("sqlalchemy")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO greetings (message) VALUES (:m)"), {"m": committed})
    with engine.connect() as conn:
        tx = conn.begin()
        conn.execute(text("INSERT INTO greetings (message) VALUES (:m)"), {"m": rolled_back})
        tx.rollback()
    assert_committed_only(app, committed, rolled_back)


def test_awswrangler_reads_and_writes(app):
    import awswrangler as wr
    import pandas as pd

    con = wr.data_api.rds.connect(app["cluster_arn"], app["database"], secret_arn=app["secret_arn"],
                                  boto3_session=boto3.Session(profile_name=PROFILE))
    df = wr.data_api.rds.read_sql_query("SELECT id, message FROM greetings ORDER BY id", con=con)
    assert list(df.columns) == ["id", "message"] and df.iloc[0].tolist() == [1, FIRST_ROW]
    # to_sql creates the table and inserts in one transaction that it commits.
    frame = pd.DataFrame({"city": ["Lisbon", "Porto"], "visitors": [3, 5]})
    wr.data_api.rds.to_sql(frame, con, "visits", app["database"], mode="overwrite", sql_mode="ansi")
    back = wr.data_api.rds.read_sql_query("SELECT city, visitors FROM visits ORDER BY city", con=con)
    assert back.values.tolist() == [["Lisbon", 3], ["Porto", 5]]
    # A transaction of its own that rolls back: the row is not there afterwards.
    tid = con.begin_transaction()
    con.execute("INSERT INTO visits (city, visitors) VALUES ('Faro', 1)", transaction_id=tid)
    con.rollback_transaction(tid)
    assert wr.data_api.rds.read_sql_query("SELECT count(*) AS n FROM visits", con=con)["n"].tolist() == [2]
