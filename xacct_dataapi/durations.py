"""How long AWS usually takes for what xacct waits on: ONE table, with where each figure comes from.

Progress shows these next to the elapsed time and the --wait-timeout limit, so an operator can tell a normal
wait from a stuck one. They are typical figures, not guarantees; the limit is what actually stops a wait.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usual:
    match: str  # a wait whose description contains this (lower case) is this kind of wait
    low: float  # seconds
    high: float
    source: str


USUAL_WAITS: tuple[Usual, ...] = (
    Usual("endpoint to become available", 60, 180,
          "issue 14 (observed on real AWS: one to three minutes for an interface endpoint)"),
    Usual("to be deleted", 30, 120, "endpoint deletion; hashicorp/terraform-provider-aws#43124"),
    Usual("network interfaces", 60, 600, "ENIs take minutes to disappear: hashicorp/terraform#3758, "
                                          "terraform-aws-modules/terraform-aws-security-group PR #229"),
    Usual("released by the endpoint", 60, 600, "same ENI release as above: hashicorp/terraform#3758"),
    Usual("the data api of cluster", 10, 60, "EnableHttpEndpoint / DisableHttpEndpoint settle in seconds (sandbox and "
                                             "issue 14); no AWS figure published"),
    # IAM eventual consistency: "a few seconds" (hashicorp/terraform#2869); terraform-provider-aws allows 2 min
    # (internal/service/iam/wait.go propagationTimeout, citing the IAM troubleshooting guide).
    Usual("not yet visible", 2, 15, "IAM propagation: hashicorp/terraform#2869; terraform-provider-aws allows 2 min"),
    Usual("propagat", 2, 15, "IAM propagation: hashicorp/terraform#2869; terraform-provider-aws allows 2 min"),
)


def clock(seconds: float) -> str:
    """0:42, 2:05, 1:02:03."""
    s = int(seconds)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _span(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def usual_for(what: str) -> Usual | None:
    text = what.lower()
    return next((u for u in USUAL_WAITS if u.match in text), None)


def usual_text(what: str) -> str | None:
    """'usually 1–3 min' for a wait this table knows, else None."""
    u = usual_for(what)
    if u is None:
        return None
    if u.low >= 60 and u.high >= 60:
        return f"usually {u.low / 60:g}–{u.high / 60:g} min"
    if u.high < 60:
        return f"usually {u.low:g}–{u.high:g} s"
    return f"usually {_span(u.low)}–{_span(u.high)}"


def wait_line(what: str, elapsed: float, limit: float | None) -> str:
    """'the rds-data endpoint … (vpce-1): 0:42, usually 1–3 min, limit 5:00'."""
    parts = [clock(elapsed)]
    usual = usual_text(what)
    if usual:
        parts.append(usual)
    if limit is not None:
        parts.append(f"limit {clock(limit)} (--wait-timeout)")
    return f"{what}: {', '.join(parts)}"
