"""The sandbox's rds-data: moto's ExecuteStatement plus the four operations moto 5.2 leaves unanswered.

moto's rds-data (moto/rdsdata/urls.py) routes only ``/Execute``; ``/BeginTransaction``, ``/CommitTransaction``,
``/RollbackTransaction`` and ``/BatchExecute`` get HTTP 404 "Not yet implemented". aurora-data-api and
sqlalchemy-aurora-data-api open a transaction on their first cursor (BeginTransaction), so they cannot run
against plain moto. Inside the sandbox's own server process, ``install()`` routes all five paths to
``SandboxRdsDataResponse`` below (moto builds each service's Flask app from ``urls.url_paths`` on that service's
first request, so this must run before the server answers rds-data); ``uninstall()`` puts moto's table back.

What this simulates, and what it does not (docs/moto-gaps.md):

- transactions are ids only: BeginTransaction returns a fresh id; Commit/Rollback of an unknown (or already
  finished) id gives ``BadRequestException`` "Transaction ... is not found", as AWS does; ExecuteStatement and
  BatchExecuteStatement with an unknown ``transactionId`` give the same. Nothing is isolated or rolled back:
  moto executes no SQL, results come from the canned-result queue (``queue_statement_result``) as before;
- the few statements a PostgreSQL client sends when it connects (server version, isolation level, schema,
  standard_conforming_strings; ``_SESSION_ANSWERS``) get fixed answers, so SQLAlchemy's dialect can start;
- BatchExecuteStatement returns one empty ``updateResults`` entry per parameter set;
- every call's request (operation, resourceArn, secretArn, database, transactionId, sql) is recorded per account
  and region, so tests can assert what a client sent (``recorded_calls``);
- not validated, as in moto: the cluster and secret ARNs, the HTTP endpoint state, ``database`` itself.
"""
from __future__ import annotations

import json
import threading
import uuid
from typing import Any

_PATHS = {
    "{0}/Execute$": "ExecuteStatement",
    "{0}/BeginTransaction$": "BeginTransaction",
    "{0}/CommitTransaction$": "CommitTransaction",
    "{0}/RollbackTransaction$": "RollbackTransaction",
    "{0}/BatchExecute$": "BatchExecuteStatement",
}
_RECORDED = ("resourceArn", "secretArn", "database", "schema", "transactionId", "sql")
# What a PostgreSQL client asks the server when it connects (SQLAlchemy's PGDialect.initialize and
# get_isolation_level, used by sqlalchemy-aurora-data-api). moto runs no SQL, so the sandbox answers these
# itself, before the canned-result queue: a client's connect never consumes a result queued for the test's query.
_SESSION_ANSWERS = {
    "select pg_catalog.version()": ("version", "text", "PostgreSQL 11.13 on x86_64-pc-linux-gnu (xacct sandbox)"),
    "show transaction isolation level": ("transaction_isolation", "text", "read committed"),
    "select current_schema()": ("current_schema", "name", "public"),
    "show standard_conforming_strings": ("standard_conforming_strings", "text", "on"),
}
_saved: dict[str, Any] | None = None
_lock = threading.Lock()


def _response_class() -> type:
    from moto.core.exceptions import JsonRESTError
    from moto.rdsdata.responses import RDSDataServiceResponse

    class TransactionNotFound(JsonRESTError):
        def __init__(self, transaction_id: str):
            super().__init__("BadRequestException", f"Transaction {transaction_id} is not found")

    class SandboxRdsDataResponse(RDSDataServiceResponse):
        """rds-data as moto answers it, plus transactions and BatchExecuteStatement, recording every request."""

        def _sandbox(self) -> dict:
            # Kept on moto's own backend object, so moto's reset (/moto-api/reset) clears it with everything else.
            backend = self.rdsdata_backend
            return backend.__dict__.setdefault("xacct_sandbox", {"transactions": {}, "calls": []})

        def _record(self, operation: str) -> dict:
            call = {"operation": operation, **{k: self._get_param(k) for k in _RECORDED if self._get_param(k) is not None}}
            self._sandbox()["calls"].append(call)
            return call

        def _check_transaction(self, call: dict, *, finish: bool = False) -> None:
            tid = call.get("transactionId")
            if tid is None:
                return
            transactions = self._sandbox()["transactions"]
            if tid not in transactions:
                raise TransactionNotFound(tid)
            if finish:
                del transactions[tid]

        def execute_statement(self) -> str:
            call = self._record("ExecuteStatement")
            self._check_transaction(call)
            answer = _SESSION_ANSWERS.get(" ".join(str(call.get("sql", "")).split()).lower())
            if answer is not None:
                name, type_name, value = answer
                return json.dumps({"records": [[{"stringValue": value}]],
                                   "columnMetadata": [{"name": name, "label": name, "typeName": type_name}]})
            return super().execute_statement()

        def batch_execute_statement(self) -> str:
            self._check_transaction(self._record("BatchExecuteStatement"))
            sets = self._get_param("parameterSets") or []
            return json.dumps({"updateResults": [{"generatedFields": []} for _ in sets]})

        def begin_transaction(self) -> str:
            call = self._record("BeginTransaction")
            tid = uuid.uuid4().hex
            self._sandbox()["transactions"][tid] = call
            return json.dumps({"transactionId": tid})

        def commit_transaction(self) -> str:
            self._check_transaction(self._record("CommitTransaction"), finish=True)
            return json.dumps({"transactionStatus": "Transaction Committed"})

        def rollback_transaction(self) -> str:
            self._check_transaction(self._record("RollbackTransaction"), finish=True)
            return json.dumps({"transactionStatus": "Rollback Complete"})

    return SandboxRdsDataResponse


def install() -> None:
    """Route every rds-data operation to the sandbox's response class (idempotent)."""
    global _saved
    from moto.rdsdata import urls

    with _lock:
        if _saved is not None:
            return
        _saved = dict(urls.url_paths)
        handler = _response_class().dispatch
        urls.url_paths.clear()
        urls.url_paths.update({path: handler for path in _PATHS})


def uninstall() -> None:
    """moto's own rds-data routes again (for a process that goes on using moto after the sandbox stopped)."""
    global _saved
    from moto.rdsdata import urls

    with _lock:
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
