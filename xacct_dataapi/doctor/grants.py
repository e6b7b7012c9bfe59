"""Reading policy documents the way doctor needs: which statements xacct wrote are missing, which other
statements GRANT something (read of the secret, use of the key, assumption of the role), and whether the
endpoint policy admits the access role. Pure; builds on policies.normalize.

Comparison ignores Sids (a chain built by hand or by Terraform names its statements differently) and maps
principals IAM shows as unique ids (AROA…/AIDA…) back to ARNs when the id belongs to a principal doctor read:
"When you save the policy, AWS transforms the ARN to a unique principal ID ... if you delete and recreate a user
or role referenced in a trust policy's Principal element, you must edit the role to replace the ARN" —
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_policy-examples.html#example-delegate-xaccount-rolesapi
(phantom drift from unique ids: go-to-k/cdkd#1515). An id doctor cannot map is an orphan, reported as such.
"""
from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

from xacct_dataapi import policies

UNIQUE_ID_RE = re.compile(r"^A[A-Z]{3}[A-Z0-9]{12,}\Z")  # AROA…, AIDA…: IAM unique ids


def _replace_ids(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, dict):
        return {k: _replace_ids(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_ids(v, ids) for v in value]
    return value


def statements(doc: Any, ids: dict[str, str] | None = None) -> list[dict]:
    """Normalised statements (policies.normalize), unique ids mapped back to ARNs where known."""
    return policies.normalize(_replace_ids(policies.parse(doc), ids or {}))["Statement"]


def _sidless(st: dict) -> dict:
    return {k: v for k, v in st.items() if k != "Sid"}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def label(st: dict) -> str:
    """A statement named for the operator: its Sid, or its compact JSON."""
    return st.get("Sid") or json.dumps(st, sort_keys=True, separators=(",", ":"))


def allows_action(st: dict, action: str) -> bool:
    if st.get("Effect") != "Allow":
        return False
    if "NotAction" in st:
        return not any(fnmatchcase(action.lower(), a.lower()) for a in _list(st["NotAction"]))
    return any(fnmatchcase(action.lower(), str(a).lower()) for a in _list(st.get("Action")))


def principals(st: dict) -> list[str]:
    p = st.get("Principal")
    if p == "*" or p is None:
        return ["*"] if p == "*" else []
    return sorted(str(v) for vs in p.values() for v in _list(vs)) if isinstance(p, dict) else [str(p)]


def orphaned_ids(doc: Any, ids: dict[str, str]) -> list[str]:
    """Unique ids left in principals after mapping the known ones: principals deleted (or recreated) since."""
    try:
        return sorted({p for st in statements(doc, ids) for p in principals(st) if UNIQUE_ID_RE.match(p)})
    except (ValueError, TypeError, AttributeError):
        return []


def compare(actual: Any, expected: Any, sensitive: tuple[str, ...], ids: dict[str, str] | None = None) -> dict:
    """{"missing": [labels of expected statements not found], "extra_grants": [statements granting a sensitive
    action that xacct did not write], "extra_other": [other unexpected statements], "invalid": bool}"""
    try:
        have = statements(actual, ids)
    except (ValueError, TypeError, AttributeError):
        return {"missing": [], "extra_grants": [], "extra_other": [], "invalid": True}
    want = statements(expected)
    want_bare = [_sidless(s) for s in want]
    have_bare = [_sidless(s) for s in have]
    missing = [label(s) for s, bare in zip(want, want_bare) if bare not in have_bare]
    extra = [s for s, bare in zip(have, have_bare) if bare not in want_bare]
    grants = [s for s in extra if any(allows_action(s, a) for a in sensitive)]
    return {"missing": missing, "extra_grants": grants, "extra_other": [s for s in extra if s not in grants],
            "invalid": False}


def _principal_arn_condition(st: dict) -> list[str]:
    """The aws:PrincipalArn values a statement's conditions name (with their operator): who it really admits."""
    return [f"{op} {', '.join(map(str, _list(values)))}" for op, keys in (st.get("Condition") or {}).items()
            if isinstance(keys, dict) for key, values in keys.items() if key.lower() == "aws:principalarn"]


def describe_grant(st: dict, sensitive: tuple[str, ...]) -> str:
    """Who gets what through a statement: an account root or `*` without an aws:PrincipalArn condition is every
    principal there (of that account: each one its own IAM lets call the action)."""
    acts = [a for a in sensitive if allows_action(st, a)]
    who = ", ".join(principals(st)) or "(identity policy)"
    narrowed = _principal_arn_condition(st)
    if narrowed:
        who += " where aws:PrincipalArn " + "; ".join(narrowed)
    elif any(p == "*" or p.endswith(":root") or re.fullmatch(r"\d{12}", p) for p in principals(st)):
        who += " (any principal there)"
    others = {op: {k: v for k, v in keys.items() if k.lower() != "aws:principalarn"}
              for op, keys in (st.get("Condition") or {}).items() if isinstance(keys, dict)}
    cond = " with other conditions" if any(others.values()) else ""
    return f"statement {label(st)!r} allows {', '.join(acts)} to {who}{cond}"


def endpoint_admits(doc: Any, role_arn: str, cluster_arn: str) -> tuple[bool, str]:
    """Does the endpoint policy let the access role call rds-data:ExecuteStatement on the cluster? (AWS's
    full-access default does.) Conditions other than aws:PrincipalArn are not evaluated: named, not guessed."""
    if not doc or policies.is_full_access(doc):
        return True, "AWS's full-access default policy"
    try:
        sts = statements(doc)
    except (ValueError, TypeError, AttributeError):
        return False, "the endpoint policy is not valid JSON"

    def matches(st: dict) -> bool:
        if not (set(principals(st)) & {"*", role_arn}):
            return False
        acts = _list(st.get("Action"))
        if not any(fnmatchcase("rds-data:executestatement", str(a).lower()) for a in acts):
            return False
        if not any(fnmatchcase(cluster_arn, str(r)) for r in _list(st.get("Resource"))):
            return False
        cond = st.get("Condition") or {}
        for op, keys in cond.items():
            for key, values in keys.items():
                if key.lower() == "aws:principalarn":
                    if op.startswith("ArnNot") or op.startswith("StringNot"):
                        if any(fnmatchcase(role_arn, v) for v in _list(values)):
                            return False
                    elif not any(fnmatchcase(role_arn, v) for v in _list(values)):
                        return False
        return True

    denies = [s for s in sts if s.get("Effect") == "Deny" and matches({**s, "Effect": "Allow"})]
    if denies:
        return False, f"statement {label(denies[0])!r} denies it"
    allows = [s for s in sts if s.get("Effect") == "Allow" and matches(s)]
    if allows:
        return True, f"statement {label(allows[0])!r} allows it"
    return False, "no statement allows rds-data:ExecuteStatement by the access role on the cluster"
