"""Policy documents compared as AWS compares them: normalised (statement order, "a" vs ["a"], string-list order,
URL-encoded or not), and each differing statement named for `status` and its JSON (drift)."""
from __future__ import annotations

import json
from typing import Any


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_norm(v) for v in value]
        if len(items) == 1 and not isinstance(items[0], (dict, list)):
            return items[0]  # AWS treats "a" and ["a"] alike
        if all(isinstance(i, str) for i in items):
            return sorted(items)
        return items
    return value


def parse(doc: Any) -> dict:
    if isinstance(doc, str):
        from urllib.parse import unquote

        text = doc if doc.lstrip().startswith("{") else unquote(doc)
        return json.loads(text)
    return doc


def normalize(doc: Any) -> dict:
    d = parse(doc) or {}
    statements = d.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return {
        "Version": d.get("Version"),
        "Statement": sorted((_norm(s) for s in statements), key=lambda s: json.dumps(s, sort_keys=True, default=str)),
    }


def equal(a: Any, b: Any) -> bool:
    try:
        return normalize(a) == normalize(b)
    except (ValueError, TypeError, AttributeError):
        return False


def differing_statements(actual: Any, desired: Any) -> list[str]:
    """Sids (or a short description) of statements that differ, for `status` to show."""
    try:
        a = {s.get("Sid", json.dumps(s, sort_keys=True, default=str)): s for s in normalize(actual)["Statement"]}
    except (ValueError, TypeError, AttributeError):
        return ["(document is not valid JSON)"]
    d = {s.get("Sid", json.dumps(s, sort_keys=True, default=str)): s for s in normalize(desired)["Statement"]}
    out = []
    for sid in sorted(set(a) | set(d)):
        if sid not in a:
            out.append(f"{sid}: missing")
        elif sid not in d:
            out.append(f"{sid}: unexpected statement")
        elif a[sid] != d[sid]:
            out.append(f"{sid}: differs")
    return out or (["Version differs"] if not equal(actual, desired) else [])


def statement_drift(actual: Any, desired: Any, document: str) -> list[dict]:
    """Each differing statement with what AWS holds and what xacct would write, for `status --output json`."""
    try:
        have = {s.get("Sid", json.dumps(s, sort_keys=True, default=str)): s for s in normalize(actual)["Statement"]}
    except (ValueError, TypeError, AttributeError):
        return [{"document": document, "sid": None, "change": "unparseable", "actual": str(actual), "expected": desired}]
    want = {s.get("Sid", json.dumps(s, sort_keys=True, default=str)): s for s in normalize(desired)["Statement"]}
    out = []
    for sid in sorted(set(have) | set(want)):
        if have.get(sid) != want.get(sid):
            change = "missing" if sid not in have else "unexpected" if sid not in want else "differs"
            out.append({"document": document, "sid": sid, "change": change, "actual": have.get(sid), "expected": want.get(sid)})
    return out
