"""The Data API's answers from a real PostgreSQL (database.py): statements, typed values, result metadata,
transactions, limits and error shapes, as the Amazon RDS Data API gives them for Aurora PostgreSQL.

Rules kept (sources in docs/aws-facts.md, "RDS Data API"):

- named parameters (``:name``) with typed values (longValue, doubleValue, booleanValue, stringValue, blobValue,
  isNull) and ``typeHint`` (DATE, TIME, TIMESTAMP, DECIMAL, UUID, JSON) are sent to PostgreSQL with those types; a
  plain stringValue is a varchar, as in AWS (``WHERE d = :d`` on a date column needs the DATE hint);
  arrayValue parameters are refused, as AWS refuses them;
- one statement per call (the extended protocol refuses several, as the Data API does);
- ``records`` / ``columnMetadata`` (with ``includeResultMetadata``; every statement gets the key, an empty list when
  it returns no rows) / ``formattedRecords`` (``formatRecordsAs`` JSON, then no ``records``) /
  ``numberOfRecordsUpdated`` (rows changed by INSERT, UPDATE, DELETE, MERGE; 0 otherwise) / ``generatedFields``
  (always empty: PostgreSQL returns generated values through RETURNING);
- a row over 64 KB or a result over 1 MiB fails; a transaction unused for three minutes is rolled back and its id
  is then unknown; a transaction used by two calls at once fails the second;
- a database error is DatabaseErrorException ``ERROR: <message>; SQLState: <code>`` (Serverless v2 / provisioned)
  or BadRequestException ``ERROR: <message>`` (Serverless v1), a wrong password included.
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

TRANSACTION_IDLE_S = 180.0  # "each transactional call runs within three minutes of the previous one"
TRANSACTION_MAX_S = 24 * 3600.0
ROW_LIMIT = 64 * 1024
RESPONSE_LIMIT = 1024 * 1024
_DML = ("insert", "update", "delete", "merge")
# PostgreSQL type OID -> (typeName, JDBC type code) as the Data API reports them in columnMetadata.
_TYPES = {16: ("bool", -7), 17: ("bytea", -2), 18: ("char", 1), 19: ("name", 12), 20: ("int8", -5), 21: ("int2", 5),
          23: ("int4", 4), 25: ("text", 12), 114: ("json", 1111), 700: ("float4", 7), 701: ("float8", 8),
          1042: ("bpchar", 1), 1043: ("varchar", 12), 1082: ("date", 91), 1083: ("time", 92),
          1114: ("timestamp", 93), 1184: ("timestamptz", 93), 1186: ("interval", 1111), 1700: ("numeric", 2),
          2950: ("uuid", 1111), 3802: ("jsonb", 1111), 1007: ("_int4", 2003), 1016: ("_int8", 2003),
          1009: ("_text", 2003), 1015: ("_varchar", 2003), 1000: ("_bool", 2003), 1022: ("_float8", 2003)}
_HINT_OIDS = {"DATE": 1082, "TIME": 1083, "TIMESTAMP": 1114, "DECIMAL": 1700, "UUID": 2950, "JSON": 114}
_SIGNED = {"int2", "int4", "int8", "float4", "float8", "numeric"}
# precision as PostgreSQL's JDBC driver reports it (the Data API's columnMetadata comes from JDBC): digits for
# numbers, characters for text, the display width for dates and times.
_PRECISION = {"int2": 5, "int4": 10, "int8": 19, "float4": 8, "float8": 17, "bool": 1, "date": 13, "time": 15,
              "timestamp": 29, "timestamptz": 35, "text": 2147483647, "name": 2147483647, "bytea": 2147483647}


def _precision_scale(type_name: str, modifier: int) -> tuple[int, int]:
    if type_name == "numeric" and modifier >= 4:
        return (modifier - 4) >> 16, (modifier - 4) & 0xFFFF
    if type_name in ("varchar", "bpchar") and modifier >= 4:
        return modifier - 4, 0
    return _PRECISION.get(type_name, 2147483647 if type_name in ("varchar", "bpchar", "numeric") else 0), 0


class DataApiError(Exception):
    """An answer in AWS's error shape: ``code`` is the exception's name, ``message`` its text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def database_error(exc: Exception, serverless_v1: bool) -> DataApiError:
    """pg8000's DatabaseError (its args[0] is the server's error fields) as the Data API reports it."""
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    text = f"{fields.get('S', 'ERROR')}: {fields.get('M', str(exc))}"
    if serverless_v1:
        return DataApiError("BadRequestException", text)
    return DataApiError("DatabaseErrorException", f"{text}; SQLState: {fields.get('C', 'XX000')}")


def bind(parameters: list[dict]) -> tuple[dict[str, Any], dict[str, int]]:
    """The Data API's SqlParameter list as pg8000 values and type OIDs (0: let PostgreSQL infer, for NULL)."""
    values: dict[str, Any] = {}
    oids: dict[str, int] = {}
    for p in parameters:
        name, value, hint = p.get("name"), p.get("value") or {}, p.get("typeHint")
        if not name:
            raise DataApiError("BadRequestException", "Parameter name is required (only named parameters are supported)")
        if "arrayValue" in value:
            raise DataApiError("BadRequestException", "Array parameters are not supported.")
        kind, raw = next(iter(value.items()), ("isNull", True))
        if kind == "isNull":
            values[name], oids[name] = None, 0
        elif kind == "longValue":
            values[name], oids[name] = int(raw), 20
        elif kind == "doubleValue":
            values[name], oids[name] = float(raw), 701
        elif kind == "booleanValue":
            values[name], oids[name] = bool(raw), 16
        elif kind == "blobValue":
            values[name], oids[name] = raw if isinstance(raw, bytes) else base64.b64decode(raw), 17
        else:  # stringValue, with or without a typeHint
            values[name], oids[name] = str(raw), _HINT_OIDS.get(str(hint).upper(), 1043) if hint else 1043
    return values, oids


def _text_time(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:  # timestamptz: the Data API answers in UTC, without an offset
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, dt.time):
        text = value.strftime("%H:%M:%S")
    else:
        return value.isoformat()
    return text + (f".{value.microsecond:06d}".rstrip("0") if value.microsecond else "")


def field_of(value: Any, *, decimal_as_double: bool = False) -> dict:
    """One value as a Data API Field."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, decimal.Decimal):
        return {"doubleValue": float(value)} if decimal_as_double else {"stringValue": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"blobValue": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return {"stringValue": _text_time(value)}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": _array_of(list(value))}
    if isinstance(value, (dict,)):
        return {"stringValue": json.dumps(value)}
    return {"stringValue": str(value)}  # uuid, interval, text, json arrays...


def _array_of(items: list) -> dict:
    sample = next((i for i in items if i is not None), None)
    if isinstance(sample, list):
        return {"arrayValues": [_array_of(i) for i in items]}
    if isinstance(sample, bool):
        return {"booleanValues": items}
    if isinstance(sample, int):
        return {"longValues": items}
    if isinstance(sample, float):
        return {"doubleValues": items}
    return {"stringValues": [None if i is None else str(i) for i in items]}


def _json_value(value: Any) -> Any:
    """One value in formattedRecords (formatRecordsAs JSON): JSON's own types where they fit."""
    f = field_of(value)
    if "arrayValue" in f:
        return [_json_value(i) for i in value]
    return None if f.get("isNull") else next(iter(f.values()))


def _metadata(conn: Any, columns: list[dict]) -> list[dict]:
    tables: dict[int, tuple[str, str]] = {}
    not_null: set[tuple[int, int]] = set()
    rels = sorted({c["table_oid"] for c in columns if c.get("table_oid")})
    if rels:
        for rel, num, table, schema, notnull in conn.run(
                "SELECT a.attrelid, a.attnum, c.relname, n.nspname, a.attnotnull FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE a.attrelid = ANY(CAST(:rels AS oid[])) AND a.attnum > 0", rels=[str(r) for r in rels]):
            tables[rel] = (table, schema)
            if notnull:
                not_null.add((rel, num))
    out = []
    for c in columns:
        type_name, jdbc = _TYPES.get(c["type_oid"], (str(c["type_oid"]), 1111))
        table, schema = tables.get(c.get("table_oid") or 0, ("", ""))
        known = bool(table)
        out.append({"name": c["name"], "label": c["name"], "type": jdbc, "typeName": type_name,
                    "schemaName": schema, "tableName": table, "isAutoIncrement": False,
                    "isSigned": type_name in _SIGNED, "isCurrency": False,
                    "isCaseSensitive": type_name in ("text", "varchar", "bpchar", "char", "name"),
                    "nullable": (0 if (c.get("table_oid"), c.get("column_attrnum")) in not_null else 1) if known else 2,
                    **dict(zip(("precision", "scale"), _precision_scale(type_name, c.get("type_modifier", -1)))),
                    "arrayBaseColumnType": 0})
    return out


def run_statement(conn: Any, sql: str, parameters: list[dict], *, include_metadata: bool = False,
                  format_json: bool = False, decimal_as_double: bool = False) -> dict:
    """Run one statement on a pg8000 native connection; the ExecuteStatement response (without error mapping)."""
    from pg8000.native import to_statement

    values, oids = bind(parameters)
    statement, make_vals = to_statement(sql)
    try:
        args = make_vals(values)
    except KeyError as missing:
        raise DataApiError("BadRequestException", f"No value specified for parameter: {missing.args[0]}") from None
    # The extended protocol (even without parameters): one statement per call, as the Data API allows.
    conn._context = conn.execute_unnamed(statement, args, oids=make_vals(oids) if oids else ())
    rows = conn._context.rows or []
    columns = conn.columns or []
    verb = sql.lstrip().split(None, 1)[0].lower() if sql.strip() else ""
    response: dict[str, Any] = {"numberOfRecordsUpdated": max(conn.row_count, 0) if verb in _DML else 0,
                                "generatedFields": []}
    if format_json:
        names = [c["name"] for c in columns]
        text = json.dumps([{n: _json_value(v) for n, v in zip(names, row)} for row in rows])
        _check_size(len(text.encode()), rows_sizes=())
        if columns:
            response["formattedRecords"] = text
    else:
        records = [[field_of(v, decimal_as_double=decimal_as_double) for v in row] for row in rows]
        _check_size(sum(len(json.dumps(r)) for r in records), rows_sizes=(len(json.dumps(r)) for r in records))
        response["records"] = records
    if include_metadata:
        response["columnMetadata"] = _metadata(conn, columns) if columns else []
    return response


def _check_size(total: int, rows_sizes: Any) -> None:
    if any(size > ROW_LIMIT for size in rows_sizes):
        raise DataApiError("BadRequestException", "Packet for query is too large. Each row must be 64 KB or less.")
    if total > RESPONSE_LIMIT:
        raise DataApiError("BadRequestException", "Database returned more than the allowed response size limit")


@dataclass
class Transaction:
    conn: Any
    resource_arn: str
    started: float
    used: float
    busy: threading.Lock = field(default_factory=threading.Lock)


class Transactions:
    """Open transactions by id, each on its own connection; idle or too old ones are rolled back and forgotten."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._open: dict[str, Transaction] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def begin(self, conn: Any, resource_arn: str) -> str:
        conn.run("BEGIN")
        tid = base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode()
        now = self.clock()
        with self._lock:
            self._expire(now)
            self._open[tid] = Transaction(conn, resource_arn, now, now)
        return tid

    def use(self, tid: str, resource_arn: str) -> Transaction:
        with self._lock:
            self._expire(self.clock())
            tx = self._open.get(tid)
            if tx is None or tx.resource_arn != resource_arn:
                raise DataApiError("BadRequestException", f"Transaction {tid} is not found")
            tx.used = self.clock()
        if not tx.busy.acquire(blocking=False):
            raise DataApiError("DatabaseErrorException", "Transaction is still running a query")
        return tx

    def finish(self, tid: str, resource_arn: str, commit: bool) -> None:
        tx = self.use(tid, resource_arn)
        try:
            with self._lock:
                self._open.pop(tid, None)
            tx.conn.run("COMMIT" if commit else "ROLLBACK")
        finally:
            tx.busy.release()
            tx.conn.close()

    def _expire(self, now: float) -> None:
        for tid, tx in list(self._open.items()):
            if (now - tx.used > TRANSACTION_IDLE_S or now - tx.started > TRANSACTION_MAX_S) and not tx.busy.locked():
                del self._open[tid]
                try:
                    tx.conn.close()  # closing without COMMIT rolls back
                except Exception:
                    pass

    def close_all(self) -> None:
        with self._lock:
            for tx in self._open.values():
                try:
                    tx.conn.close()
                except Exception:
                    pass
            self._open.clear()
