"""Write a template as YAML or JSON without a YAML library (xacct's runtime needs none).

The YAML is block style; every string is a JSON-quoted scalar (valid YAML), so no value can be misread
as a number, a boolean or a tag. Intrinsic functions use their long form ({"Fn::Sub": ...}), which is
plain YAML and needs no custom tags.
"""
from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\Z")
# Plain words YAML 1.1 reads as null or a boolean: an IAM condition operator is literally "Null".
_RESERVED = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n"})


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) and key.lower() not in _RESERVED else json.dumps(key)


def _lines(value: Any, indent: int) -> list[str]:
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        out = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{_key(k)}:")
                out += _lines(v, indent + 1)
            else:
                out.append(f"{pad}{_key(k)}: {_inline(v)}")
        return out
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        out = []
        for v in value:
            if isinstance(v, (dict, list)) and v:
                inner = _lines(v, indent + 1)
                out.append(f"{pad}- {inner[0].lstrip()}")
                out += inner[1:]
            else:
                out.append(f"{pad}- {_inline(v)}")
        return out
    return [pad + _scalar(value)]


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def to_yaml(doc: dict) -> str:
    return "\n".join(_lines(doc, 0)) + "\n"


def to_json(doc: dict) -> str:
    return json.dumps(doc, indent=2) + "\n"
