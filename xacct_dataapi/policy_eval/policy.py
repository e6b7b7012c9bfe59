"""One policy document against one request: does a statement Allow it, Deny it, or neither.

The rules are AWS's (IAM User Guide, "IAM JSON policy elements reference" and "Condition operators",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):

- Action / NotAction match case-insensitively with `*` and `?`; Resource / NotResource case-sensitively.
- Inside one Condition: the operators are ANDed, the keys of one operator are ANDed, the values of one key ORed.
- A key missing from the request: the condition is false, except with `...IfExists` (true), `Null` (tests exactly
  that) and the negated operators (`StringNotEquals`, `ArnNotLike`, ...), which are true.
- `ForAnyValue:` is true when some request value matches; `ForAllValues:` when every one does (true with no values).
- Condition keys are case-insensitive, their values case-sensitive unless the operator says IgnoreCase.
Not modelled: policy variables (`${aws:username}`), Date operators, BinaryEquals.
"""
from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

Context = dict  # lowercase condition key -> list[str] of values


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern:
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE if ignore_case else 0)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    # fnmatch would also treat [ ] as a character class; IAM has only * and ?.
    escaped = pattern.replace("[", "[[]")
    return _glob(escaped, ignore_case).match(value) is not None


def arn_like(pattern: str, value: str) -> bool:
    """ArnLike: the six colon-separated parts each matched with * and ?, the resource part may hold colons."""
    p, v = pattern.split(":", 5), value.split(":", 5)
    if len(p) != 6 or len(v) != 6:
        return glob_match(pattern, value)
    return all(glob_match(a, b) for a, b in zip(p, v))


def _truthy(value: str) -> bool:
    return str(value).lower() == "true"


def _number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _ip_in(pattern: str, value: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return False


_NUMERIC = {"NumericEquals": lambda a, b: a == b, "NumericNotEquals": lambda a, b: a != b,
            "NumericLessThan": lambda a, b: a < b, "NumericLessThanEquals": lambda a, b: a <= b,
            "NumericGreaterThan": lambda a, b: a > b, "NumericGreaterThanEquals": lambda a, b: a >= b}

# operator -> (does one request value match one policy value, is it a negated operator)
_MATCHERS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (glob_match, False),
    "StringNotLike": (glob_match, True),
    "ArnEquals": (arn_like, False),  # AWS documents ArnEquals and ArnLike as the same comparison
    "ArnLike": (arn_like, False),
    "ArnNotEquals": (arn_like, True),
    "ArnNotLike": (arn_like, True),
    "Bool": (lambda p, v: _truthy(p) == _truthy(v), False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
}


class UnsupportedCondition(ValueError):
    """A condition operator this evaluator does not model: the statement never matches (reported, not guessed)."""


def _operator_holds(operator: str, policy_values: list[str], present: list[str] | None) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    if base == "Null":
        return all(_truthy(p) == (present is None) for p in policy_values)
    if present is None:
        # Missing key: IfExists and the negated operators hold, ForAllValues holds (vacuously), the rest do not.
        negated = _MATCHERS.get(base, (None, False))[1] or base == "NumericNotEquals"
        return if_exists or negated or qualifier == "ForAllValues"
    if base in _NUMERIC:
        compare = _NUMERIC[base]

        def one(p: str, v: str) -> bool:
            a, b = _number(v), _number(p)
            return a is not None and b is not None and compare(a, b)
        negated = False
    elif base in _MATCHERS:
        one, negated = _MATCHERS[base]
        one = (lambda f: lambda p, v: f(str(p), str(v)))(one)
    else:
        raise UnsupportedCondition(operator)
    if qualifier == "ForAllValues":
        hits = all(any(one(p, v) for p in policy_values) for v in present)
    else:  # ForAnyValue, and single-valued keys (one value)
        hits = any(one(p, v) for v in present for p in policy_values)
    return not hits if negated else hits


def conditions_hold(condition: dict | None, context: Context) -> bool:
    for operator, block in (condition or {}).items():
        if not isinstance(block, dict):
            return False
        for key, values in block.items():
            present = context.get(key.lower())
            if not _operator_holds(operator, [str(v) if not isinstance(v, bool) else str(v).lower()
                                              for v in as_list(values)], present):
                return False
    return True


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    principals: tuple[str, ...] | None  # "*" or ARNs / account ids / "Service:x"; None: no Principal element
    not_principals: tuple[str, ...] | None
    condition: dict | None

    def matches_action(self, action: str) -> bool:
        if self.actions:
            return any(glob_match(a, action, ignore_case=True) for a in self.actions)
        return not any(glob_match(a, action, ignore_case=True) for a in self.not_actions)

    def matches_resource(self, resource: str) -> bool:
        if self.resources:
            return any(r == "*" or glob_match(r, resource) for r in self.resources)
        if self.not_resources:
            return not any(r == "*" or glob_match(r, resource) for r in self.not_resources)
        return True  # trust policies have no Resource element: the role itself

    def applies(self, action: str, resource: str, context: Context) -> bool:
        return self.matches_action(action) and self.matches_resource(resource) and conditions_hold(self.condition, context)


def _principals(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value == "*":
        return ("*",)
    out: list[str] = []
    if isinstance(value, dict):
        for kind, ids in value.items():
            for one in as_list(ids):
                out.append(str(one) if kind == "AWS" else f"{kind}:{one}")
    return tuple(out)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in as_list(value)) if value is not None else ()


@lru_cache(maxsize=2048)
def parse_policy(text: str) -> tuple[Statement, ...]:
    """A policy document (JSON text, or URL-encoded as IAM returns it) as statements; cached by its text."""
    from urllib.parse import unquote

    doc = json.loads(text if text.lstrip().startswith("{") else unquote(text))
    statements = []
    for i, st in enumerate(as_list(doc.get("Statement", []))):
        statements.append(Statement(
            sid=str(st.get("Sid", i)), effect=str(st.get("Effect", "")),
            actions=_strings(st.get("Action")), not_actions=_strings(st.get("NotAction")),
            resources=_strings(st.get("Resource")), not_resources=_strings(st.get("NotResource")),
            principals=_principals(st.get("Principal")), not_principals=_principals(st.get("NotPrincipal")),
            condition=st.get("Condition"),
        ))
    return tuple(statements)


def policy_text(doc: Any) -> str:
    return doc if isinstance(doc, str) else json.dumps(doc, sort_keys=True)


def statements_of(docs: Iterable[Any]) -> list[Statement]:
    out: list[Statement] = []
    for doc in docs:
        if doc:
            out.extend(parse_policy(policy_text(doc)))
    return out
