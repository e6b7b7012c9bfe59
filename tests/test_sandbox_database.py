"""The sandbox's Data API against its real PostgreSQL (sandbox/database.py, dataapi_postgres.py, rdsdata.py): every
request as AWS checks it (cluster, Data API switch, secret, login, database), typed values, metadata, limits,
transactions that expire, AWS's error shapes; and the aurora-mysql emulation's answers. Through boto3 and the
sandbox's own profiles, as a client sees it."""
from __future__ import annotations

import json
import stat
import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from xacct_dataapi.sandbox import PROVIDER_PROFILE, Sandbox
from xacct_dataapi.sandbox import rdsdata

pytestmark = pytest.mark.server


def provider(info, monkeypatch, service: str):
    for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)
    for k, v in info.env().items():
        monkeypatch.setenv(k, v)
    return boto3.Session(profile_name=PROVIDER_PROFILE).client(service, config=Config(proxies={}, retries={"max_attempts": 1}))


def code_and_message(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("pg") / "sandbox") as sandbox:
        yield sandbox


@pytest.fixture
def api(pg, monkeypatch):
    """rds-data as the provider, the cluster's Data API on, and secrets: the right login, a wrong password, none."""
    info = pg.info
    sm, rds = provider(info, monkeypatch, "secretsmanager"), provider(info, monkeypatch, "rds")
    rds.enable_http_endpoint(ResourceArn=info.cluster_arn)
    secrets = {}
    for name, doc in (("good", {"username": info.db_user, "password": info.db_password()}),
                      ("wrong", {"username": info.db_user, "password": "not-the-password"}),
                      ("nopassword", {"username": info.db_user})):
        try:
            secrets[name] = sm.create_secret(Name=f"db-{name}", SecretString=json.dumps(doc))["ARN"]
        except ClientError:  # created by an earlier test of this module
            secrets[name] = sm.describe_secret(SecretId=f"db-{name}")["ARN"]
    data = provider(info, monkeypatch, "rds-data")

    def call(operation: str, secret: str = "good", **kwargs):
        return getattr(data, operation)(resourceArn=kwargs.pop("resourceArn", info.cluster_arn),
                                        secretArn=secrets.get(secret, secret), **kwargs)

    return call


def test_seeded_database_user_table_and_files(pg, api):
    info = pg.info
    assert (info.db_user, info.db_port > 0) == ("app_user", True)
    out = api("execute_statement", database="app", sql="SELECT current_user, current_database(), count(*) FROM greetings")
    assert out["records"] == [[{"stringValue": "app_user"}, {"stringValue": "app"}, {"longValue": 2}]]
    assert stat.S_IMODE((info.dir / "db-password").stat().st_mode) == 0o600
    assert (info.dir / "postgres" / "PG_VERSION").exists()
    doc = json.loads((info.dir / "sandbox.json").read_text())
    assert doc["db_port"] == info.db_port and info.db_password() not in json.dumps(doc)
    assert "psql -h 127.0.0.1" in pg.sql_shell_command() and info.db_password() not in pg.sql_shell_command()


def test_the_login_is_the_secret(api):
    with pytest.raises(ClientError) as e:
        api("execute_statement", secret="wrong", database="app", sql="SELECT 1")
    assert code_and_message(e) == ("DatabaseErrorException",
                                   'FATAL: password authentication failed for user "app_user"; SQLState: 28P01')
    with pytest.raises(ClientError) as e:
        api("execute_statement", secret="nopassword", database="app", sql="SELECT 1")
    assert code_and_message(e)[0] == "InvalidSecretException"
    with pytest.raises(ClientError) as e:
        api("execute_statement", secret="arn:aws:secretsmanager:us-west-2:222222222222:secret:gone-AbCdEf",
            database="app", sql="SELECT 1")
    assert code_and_message(e)[0] == "SecretsErrorException"


def test_database_is_the_request_s_else_one_named_after_the_user(api):
    with pytest.raises(ClientError) as e:
        api("execute_statement", sql="SELECT 1")  # the Data API does not read dbname from the secret
    assert code_and_message(e) == ("DatabaseErrorException", 'FATAL: database "app_user" does not exist; SQLState: 3D000')
    with pytest.raises(ClientError) as e:
        api("execute_statement", database="app", schema="public", sql="SELECT 1")
    assert code_and_message(e)[0] == "BadRequestException"


def test_cluster_must_exist_and_have_its_data_api_on(pg, api, monkeypatch):
    info = pg.info
    with pytest.raises(ClientError) as e:
        api("execute_statement", resourceArn=info.cluster_arn + "-nope", database="app", sql="SELECT 1")
    assert code_and_message(e)[0] == "NotFoundException"
    provider(info, monkeypatch, "rds").disable_http_endpoint(ResourceArn=info.cluster_arn)
    with pytest.raises(ClientError) as e:
        api("execute_statement", database="app", sql="SELECT 1")
    assert code_and_message(e)[0] == "HttpEndpointNotEnabledException" and info.cluster_id in code_and_message(e)[1]
    provider(info, monkeypatch, "rds").enable_http_endpoint(ResourceArn=info.cluster_arn)


def test_typed_parameters_and_metadata(api):
    api("execute_statement", database="app", sql="CREATE TABLE IF NOT EXISTS typed (d date, n numeric(6,2), b bytea, "
                                                 "f float8, ok boolean, note text)")
    params = [{"name": "d", "value": {"stringValue": "2026-12-07"}, "typeHint": "DATE"},
              {"name": "n", "value": {"stringValue": "12.50"}, "typeHint": "DECIMAL"},
              {"name": "b", "value": {"blobValue": b"\x00\x01"}}, {"name": "f", "value": {"doubleValue": 0.5}},
              {"name": "ok", "value": {"booleanValue": True}}, {"name": "note", "value": {"isNull": True}}]
    out = api("execute_statement", database="app", includeResultMetadata=True, parameters=params,
              sql="INSERT INTO typed VALUES (:d, :n, :b, :f, :ok, :note)")
    assert (out["numberOfRecordsUpdated"], out["columnMetadata"], out["generatedFields"]) == (1, [], [])
    out = api("execute_statement", database="app", includeResultMetadata=True, sql="SELECT * FROM typed LIMIT 1")
    assert out["records"][0] == [{"stringValue": "2026-12-07"}, {"stringValue": "12.50"}, {"blobValue": b"\x00\x01"},
                                 {"doubleValue": 0.5}, {"booleanValue": True}, {"isNull": True}]
    assert [(c["name"], c["typeName"], c["tableName"]) for c in out["columnMetadata"]][:2] == [
        ("d", "date", "typed"), ("n", "numeric", "typed")]
    assert (out["columnMetadata"][1]["precision"], out["columnMetadata"][1]["scale"]) == (6, 2)
    assert out["numberOfRecordsUpdated"] == 0
    # A plain stringValue is a varchar, as on AWS: a date column needs the DATE hint.
    with pytest.raises(ClientError) as e:
        api("execute_statement", database="app", sql="INSERT INTO typed (d) VALUES (:d)",
            parameters=[{"name": "d", "value": {"stringValue": "2026-12-07"}}])
    assert code_and_message(e)[0] == "DatabaseErrorException" and "SQLState: 42804" in code_and_message(e)[1]
    with pytest.raises(ClientError) as e:
        api("execute_statement", database="app", sql="SELECT :a",
            parameters=[{"name": "a", "value": {"arrayValue": {"longValues": [1]}}}])
    assert code_and_message(e)[0] == "BadRequestException"
    json_out = api("execute_statement", database="app", formatRecordsAs="JSON", sql="SELECT 1 AS one, 'x' AS s")
    assert json.loads(json_out["formattedRecords"]) == [{"one": 1, "s": "x"}] and "records" not in json_out


def test_one_statement_per_call_and_size_limits(api):
    with pytest.raises(ClientError) as e:
        api("execute_statement", database="app", sql="SELECT 1; SELECT 2")
    assert code_and_message(e)[0] == "DatabaseErrorException"
    with pytest.raises(ClientError) as e:
        api("execute_statement", database="app", sql="SELECT repeat('x', 70000)")
    assert code_and_message(e) == ("BadRequestException", "Packet for query is too large. Each row must be 64 KB or less.")
    with pytest.raises(ClientError) as e:
        api("execute_statement", database="app", sql="SELECT repeat('x', 60000) FROM generate_series(1, 20)")
    assert code_and_message(e) == ("BadRequestException", "Database returned more than the allowed response size limit")


def test_transactions_commit_roll_back_and_expire(api, monkeypatch):
    def count(message: str) -> int:
        out = api("execute_statement", database="app", sql="SELECT count(*) FROM greetings WHERE message = :m",
                  parameters=[{"name": "m", "value": {"stringValue": message}}])
        return out["records"][0][0]["longValue"]

    def insert(tid: str, message: str) -> None:
        api("execute_statement", transactionId=tid, sql="INSERT INTO greetings (message) VALUES (:m)",
            parameters=[{"name": "m", "value": {"stringValue": message}}])

    for finish, message, expected in (("commit_transaction", "kept", 1), ("rollback_transaction", "dropped", 0)):
        tid = api("begin_transaction", database="app")["transactionId"]
        insert(tid, message)
        assert count(message) == 0  # not visible outside the transaction before it ends
        api(finish, transactionId=tid)
        assert count(message) == expected
        with pytest.raises(ClientError) as e:  # an ended transaction is unknown
            api(finish, transactionId=tid)
        assert code_and_message(e) == ("BadRequestException", f"Transaction {tid} is not found")

    tid = api("begin_transaction", database="app")["transactionId"]
    insert(tid, "idle")
    later = rdsdata._transactions.clock() + 181  # three minutes without a call: rolled back
    monkeypatch.setattr(rdsdata._transactions, "clock", lambda: later)
    with pytest.raises(ClientError) as e:
        api("commit_transaction", transactionId=tid)
    assert code_and_message(e)[1] == f"Transaction {tid} is not found"
    assert count("idle") == 0

    batch = api("batch_execute_statement", database="app", sql="INSERT INTO greetings (message) VALUES (:m)",
                parameterSets=[[{"name": "m", "value": {"stringValue": "batch"}}]] * 3)
    assert len(batch["updateResults"]) == 3 and count("batch") == 3


def test_the_printed_sql_shell_opens_on_the_database(pg):
    """The psql line `sandbox up` prints (psql from the wheel, the DB user, password from DIR/db-password) works."""
    import subprocess

    line = pg.sql_shell_command()
    res = subprocess.run(["bash", "-c", f"{line} -tA -c 'SELECT current_user, count(*) > 0 FROM greetings'"],
                         capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "app_user|t"


def test_a_statement_waiting_on_a_row_lock_holds_up_no_other_request(pg, api, monkeypatch):
    """The sandbox answers one moto request at a time (sandbox.MOTO_LOCK), but not the Data API's SQL: an UPDATE that
    waits on another transaction's row lock must not stop that transaction's commit, nor any other request, from
    being answered (else the sandbox deadlocks where AWS does not)."""
    api("execute_statement", database="app", sql="CREATE TABLE IF NOT EXISTS counters (id int PRIMARY KEY, n int)")
    api("execute_statement", database="app", sql="INSERT INTO counters VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
    holder = api("begin_transaction", database="app")["transactionId"]
    api("execute_statement", transactionId=holder, sql="UPDATE counters SET n = n + 1 WHERE id = 1")
    waited: dict = {}

    def blocked_update():
        try:
            waited["result"] = api("execute_statement", database="app", sql="UPDATE counters SET n = n + 10 WHERE id = 1")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            waited["result"] = exc

    waiter = threading.Thread(target=blocked_update, daemon=True)
    waiter.start()
    waiter.join(1.0)
    assert waiter.is_alive(), "the second UPDATE did not wait on the row lock: the test proves nothing"
    # Answered while the statement waits: another service's request, and the commit that releases the lock.
    assert provider(pg.info, monkeypatch, "iam").list_roles()["ResponseMetadata"]["HTTPStatusCode"] == 200
    api("commit_transaction", transactionId=holder)
    waiter.join(30)
    assert not waiter.is_alive() and isinstance(waited["result"], dict), waited.get("result")
    out = api("execute_statement", database="app", sql="SELECT n FROM counters WHERE id = 1")
    assert out["records"][0][0]["longValue"] == 11  # both updates
