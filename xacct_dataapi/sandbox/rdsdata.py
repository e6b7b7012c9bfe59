"""The sandbox's rds-data: all five operations, answered by a real PostgreSQL for an aurora-postgresql cluster.

moto's rds-data (moto/rdsdata/urls.py) routes only ``/Execute`` and answers it from a queue of canned results;
``/BeginTransaction``, ``/CommitTransaction``, ``/RollbackTransaction`` and ``/BatchExecute`` get HTTP 404 "Not
yet implemented". Inside the sandbox's own server process, ``install()`` routes all five paths to
``SandboxRdsDataResponse`` below (moto builds each service's Flask app from ``urls.url_paths`` on that service's
first request, so this must run before the server answers rds-data); ``uninstall()`` puts moto's table back.

Every request, as AWS checks it:

- the cluster (``resourceArn``) must exist (NotFoundException) and have its Data API on
  (HttpEndpointNotEnabledException, "HttpEndpoint is not enabled for cluster ...");
- the secret (``secretArn``) is read from Secrets Manager in its own account (SecretsErrorException when it cannot
  be read, InvalidSecretException without ``username`` and ``password``); its username and password are the login;
- the ``database`` named in the request, else a database named after the user (the Data API does not read
  ``dbname`` from the secret: aws/aws-cli#8577); ``schema`` is refused, as the Data API refuses it for PostgreSQL.

aurora-postgresql: the statement runs on the sandbox's PostgreSQL (database.py) as that login; translation of
values, metadata, limits, transactions and errors: dataapi_postgres.py.

aurora-mysql (no embeddable MySQL server exists as a Python package): emulated. ExecuteStatement answers from
moto's canned-result queue (``queue_statement_result``), always with ``columnMetadata`` (empty when nothing was
queued) and ``numberOfRecordsUpdated``, after fixed answers to a MySQL client's connect-time questions
(``_MYSQL_SESSION``); transactions are ids only; nothing is stored or checked against a password.

Every request (operation, resourceArn, secretArn, database, transactionId, sql) is recorded per account and region
(``recorded_calls``), so tests can assert what a client sent.
"""
from __future__ import annotations

import json
import re
import threading
from typing import Any

from xacct_dataapi.sandbox import MOTO_LOCK
from xacct_dataapi.sandbox.dataapi_postgres import DataApiError, Transactions, database_error, run_statement

_PATHS = {
    "{0}/Execute$": "ExecuteStatement",
    "{0}/BeginTransaction$": "BeginTransaction",
    "{0}/CommitTransaction$": "CommitTransaction",
    "{0}/RollbackTransaction$": "RollbackTransaction",
    "{0}/BatchExecute$": "BatchExecuteStatement",
}
_RECORDED = ("resourceArn", "secretArn", "database", "schema", "transactionId", "sql")
_ARN = re.compile(r"^arn:aws[\w-]*:(?P<service>[\w-]+):(?P<region>[\w-]+):(?P<account>\d{12}):(?P<rest>.+)$")
# What a MySQL client asks when it connects (SQLAlchemy's MySQLDialect.initialize, through sqlalchemy-aurora-data-api),
# answered as Aurora MySQL 3.08 (MySQL 8.0.39) would, so the emulation lets the dialect start: sql -> rows, columns.
_MYSQL_SESSION = {
    "select version()": ([["8.0.39"]], ["VERSION()"]),
    "select @@sql_mode": ([["NO_ENGINE_SUBSTITUTION"]], ["@@sql_mode"]),
    "select @@lower_case_table_names": ([["0"]], ["@@lower_case_table_names"]),
    "select database()": ([[None]], ["DATABASE()"]),  # None: the request's database
    "show variables like 'character_set_client'": ([["character_set_client", "utf8mb4"]], ["Variable_name", "Value"]),
    "select @@transaction_isolation": ([["REPEATABLE-READ"]], ["@@transaction_isolation"]),
}
_HTTP_STATUS = {"NotFoundException": 404, "TransactionNotFoundException": 404, "ForbiddenException": 403}
_saved: dict[str, Any] | None = None
_lock = threading.Lock()
_database: Any = None  # database.Database of the running sandbox, if its cluster is aurora-postgresql
_transactions = Transactions()


def _response_class() -> type:
    from moto.core.exceptions import JsonRESTError
    from moto.rdsdata.responses import RDSDataServiceResponse

    class DataApiFailure(JsonRESTError):
        def __init__(self, error: DataApiError):
            super().__init__(error.code, error.message)
            self.code = _HTTP_STATUS.get(error.code, 400)

    class SandboxRdsDataResponse(RDSDataServiceResponse):
        """rds-data answered by the sandbox, recording every request."""

        def _sandbox(self) -> dict:
            # Kept on moto's own backend object, so moto's reset (/moto-api/reset) clears it with everything else.
            backend = self.rdsdata_backend
            return backend.__dict__.setdefault("xacct_sandbox", {"transactions": {}, "calls": []})

        def _record(self, operation: str) -> dict:
            call = {"operation": operation, **{k: self._get_param(k) for k in _RECORDED if self._get_param(k) is not None}}
            self._sandbox()["calls"].append(call)
            return call

        def _answer(self, operation: str) -> str:
            call = self._record(operation)
            try:
                # moto's backends under MOTO_LOCK, as every other request; the SQL outside it, for a statement may wait
                # on a row lock that only a later request (another transaction's commit) releases.
                with MOTO_LOCK:
                    cluster = _cluster(call.get("resourceArn") or "")
                    if not ("postgres" in cluster.engine and _database is not None):
                        return json.dumps(self._emulated(operation, call))
                return json.dumps(_postgres(operation, call, cluster, self._get_param))
            except DataApiError as exc:
                raise DataApiFailure(exc) from None

        def _emulated(self, operation: str, call: dict) -> dict:
            transactions = self._sandbox()["transactions"]
            tid = call.get("transactionId")
            if tid is not None and tid not in transactions:
                raise DataApiError("BadRequestException", f"Transaction {tid} is not found")
            if operation == "BeginTransaction":
                import uuid

                tid = uuid.uuid4().hex
                transactions[tid] = call
                return {"transactionId": tid}
            if operation in ("CommitTransaction", "RollbackTransaction"):
                transactions.pop(tid, None)
                return {"transactionStatus": "Transaction Committed" if operation == "CommitTransaction"
                        else "Rollback Complete"}
            if operation == "BatchExecuteStatement":
                return {"updateResults": [{"generatedFields": []} for _ in self._get_param("parameterSets") or []]}
            session = _MYSQL_SESSION.get(" ".join(str(call.get("sql", "")).split()).lower())
            if session is not None:
                rows, names = session
                rows = [[v if v is not None else call.get("database") for v in row] for row in rows]
                return {"records": [[{"stringValue": v} if v is not None else {"isNull": True} for v in row]
                                    for row in rows], "numberOfRecordsUpdated": 0,
                        **({"columnMetadata": [{"name": n, "label": n, "typeName": "VARCHAR", "type": 12} for n in names]}
                           if self._get_param("includeResultMetadata") else {})}
            result = json.loads(super().execute_statement())
            result["numberOfRecordsUpdated"] = result.get("numberOfRecordsUpdated") or 0
            if self._get_param("includeResultMetadata"):
                result["columnMetadata"] = result.get("columnMetadata") or []
            return {k: v for k, v in result.items() if v is not None}

        def execute_statement(self) -> str:
            return self._answer("ExecuteStatement")

        def batch_execute_statement(self) -> str:
            return self._answer("BatchExecuteStatement")

        def begin_transaction(self) -> str:
            return self._answer("BeginTransaction")

        def commit_transaction(self) -> str:
            return self._answer("CommitTransaction")

        def rollback_transaction(self) -> str:
            return self._answer("RollbackTransaction")

    return SandboxRdsDataResponse


def _arn_parts(arn: str, what: str) -> dict:
    m = _ARN.match(arn)
    if m is None:
        raise DataApiError("BadRequestException", f"Invalid {what}: {arn!r} is not an ARN")
    return m.groupdict()


def _cluster(resource_arn: str) -> Any:
    from moto.rds.models import rds_backends

    parts = _arn_parts(resource_arn, "resourceArn")
    backend = rds_backends[parts["account"]][parts["region"]]
    cluster = next((c for c in backend.clusters.values() if c.db_cluster_arn == resource_arn), None)
    if cluster is None:
        raise DataApiError("NotFoundException", f"DB cluster {resource_arn} not found")
    if not cluster.enable_http_endpoint:
        raise DataApiError("HttpEndpointNotEnabledException",
                           f"HttpEndpoint is not enabled for cluster {cluster.db_cluster_identifier}. Please refer to "
                           "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.troubleshooting.html")
    return cluster


def _login(secret_arn: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    from xacct_dataapi.sandbox.database import Login

    parts = _arn_parts(secret_arn, "secretArn")
    try:
        with MOTO_LOCK:
            value = secretsmanager_backends[parts["account"]][parts["region"]].get_secret_value(secret_arn, None, None)
    except Exception as exc:  # not found, scheduled for deletion, ...: moto's own message
        raise DataApiError("SecretsErrorException",
                           f"Error fetching secret {secret_arn} : {getattr(exc, 'message', exc)}") from None
    try:
        doc = json.loads(value.get("SecretString") or "")
        return Login(str(doc["username"]), str(doc["password"]))
    except (ValueError, KeyError, TypeError):
        raise DataApiError("InvalidSecretException", f"The secret {secret_arn} is not a JSON document with username "
                           "and password") from None


def _postgres(operation: str, call: dict, cluster: Any, param: Any) -> dict:
    import pg8000

    v1 = cluster.engine_mode == "serverless"
    arn = call["resourceArn"]
    if operation in ("CommitTransaction", "RollbackTransaction"):
        _transactions.finish(call.get("transactionId", ""), arn, commit=operation == "CommitTransaction")
        return {"transactionStatus": "Transaction Committed" if operation == "CommitTransaction" else "Rollback Complete"}
    if call.get("schema"):
        raise DataApiError("BadRequestException", "The schema parameter isn't supported for Aurora PostgreSQL.")
    tid = call.get("transactionId")
    tx = _transactions.use(tid, arn) if tid else None
    conn = tx.conn if tx else None
    try:
        if conn is None:
            login = _login(call.get("secretArn") or "")
            conn = _database.connect(login, call.get("database") or login.user)
        if operation == "BeginTransaction":
            return {"transactionId": _transactions.begin(conn, arn)}
        sql = call.get("sql") or ""
        if operation == "BatchExecuteStatement":
            results = []
            if tx is None:
                conn.run("BEGIN")  # a batch outside a transaction commits as a whole, or not at all
            for parameters in param("parameterSets") or [[]]:
                run_statement(conn, sql, parameters)
                results.append({"generatedFields": []})
            if tx is None:
                conn.run("COMMIT")
            return {"updateResults": results}
        options = param("resultSetOptions") or {}
        return run_statement(conn, sql, param("parameters") or [], include_metadata=bool(param("includeResultMetadata")),
                             format_json=param("formatRecordsAs") == "JSON",
                             decimal_as_double=options.get("decimalReturnType") == "DOUBLE_OR_LONG")
    except pg8000.DatabaseError as exc:
        raise database_error(exc, v1) from None
    except pg8000.InterfaceError as exc:
        raise DataApiError("DatabaseUnavailableException", f"The database is not reachable: {exc}") from None
    finally:
        if tx is not None:
            tx.busy.release()
        elif conn is not None and operation != "BeginTransaction":
            conn.close()


def install(database: Any = None) -> None:
    """Route every rds-data operation to the sandbox's response class (idempotent); `database` answers for
    aurora-postgresql clusters."""
    global _saved, _database, _transactions
    from moto.rdsdata import urls

    with _lock:
        _database = database
        _transactions = Transactions()
        if _saved is not None:
            return
        _saved = dict(urls.url_paths)
        handler = _response_class().dispatch
        urls.url_paths.clear()
        urls.url_paths.update({path: handler for path in _PATHS})


def uninstall() -> None:
    """moto's own rds-data routes again (for a process that goes on using moto after the sandbox stopped)."""
    global _saved, _database
    from moto.rdsdata import urls

    with _lock:
        _transactions.close_all()
        _database = None
        if _saved is None:
            return
        urls.url_paths.clear()
        urls.url_paths.update(_saved)
        _saved = None


def recorded_calls(account_id: str, region: str) -> list[dict]:
    """The rds-data requests the sandbox (running in this process) answered for one account and region, in order."""
    from moto.rdsdata.models import rdsdata_backends

    backend = rdsdata_backends[account_id][region]
    return list(backend.__dict__.get("xacct_sandbox", {}).get("calls", []))
