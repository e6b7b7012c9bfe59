"""The sandbox's databases started and stopped with it: PostgreSQL for aurora-postgresql (its port refuses once the
sandbox stopped), and the aurora-mysql emulation's answers. Each test runs its own sandbox (one per process), so
these live apart from test_sandbox_database.py's shared one."""
from __future__ import annotations

import socket

import pytest
from botocore.exceptions import ClientError

from tests.test_sandbox_database import provider
from xacct_dataapi.sandbox import Sandbox, queue_statement_result

pytestmark = pytest.mark.server


def test_stop_stops_postgresql(tmp_path):
    sandbox = Sandbox(tmp_path / "sb")
    info = sandbox.start()
    with socket.create_connection(("127.0.0.1", info.db_port), timeout=2):
        pass
    sandbox.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", info.db_port), timeout=2).close()
    link = tmp_path / "sb" / "postgres"
    assert not (link / "postmaster.pid").exists() and not (link.is_symlink() and link.exists())


def test_mysql_is_emulated_with_metadata_always(tmp_path, monkeypatch):
    """aurora-mysql: no embeddable MySQL server exists, so answers come from the canned queue (LIFO, moto's), and an
    unqueued statement still carries columnMetadata (awswrangler and SQLAlchemy read it)."""
    with Sandbox(tmp_path / "my", engine="aurora-mysql") as sandbox:
        info = sandbox.info
        assert (info.db_port, info.db_password(), sandbox.sql_shell_command()) == (0, "", "")
        provider(info, monkeypatch, "rds").enable_http_endpoint(ResourceArn=info.cluster_arn)
        data = provider(info, monkeypatch, "rds-data")
        where = {"resourceArn": info.cluster_arn, "secretArn": "arn:aws:secretsmanager:us-west-2:222222222222:secret:x"}
        out = data.execute_statement(**where, database="app", sql="SELECT 1", includeResultMetadata=True)
        assert (out["records"], out["columnMetadata"], out["numberOfRecordsUpdated"]) == ([], [], 0)
        queue_statement_result(info, [[{"longValue": 1}]], [{"name": "one", "typeName": "INT"}])
        queue_statement_result(info, [[{"longValue": 2}]], [{"name": "two", "typeName": "INT"}])
        first = data.execute_statement(**where, sql="SELECT 'first'", includeResultMetadata=True)
        second = data.execute_statement(**where, sql="SELECT 'second'", includeResultMetadata=True)
        assert (first["records"], second["records"]) == ([[{"longValue": 2}]], [[{"longValue": 1}]])
        assert first["columnMetadata"][0]["name"] == "two"
        tid = data.begin_transaction(**where, database="app")["transactionId"]
        assert data.commit_transaction(**where, transactionId=tid)["transactionStatus"] == "Transaction Committed"
        with pytest.raises(ClientError) as e:
            data.commit_transaction(**where, transactionId=tid)
        assert e.value.response["Error"]["Code"] == "BadRequestException"
