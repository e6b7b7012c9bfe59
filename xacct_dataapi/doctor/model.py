"""Doctor's vocabulary: a check is data (id, link, account, status, evidence, fix); a report is the list."""
from __future__ import annotations

from dataclasses import dataclass, field

OK, WARN, FAIL, SKIPPED = "ok", "warn", "fail", "skipped"
STATUSES = (OK, WARN, FAIL, SKIPPED)

# The links of the chain, in the order a request crosses them (the table groups by account, then link).
LINKS = ("cluster", "secret", "key", "access role", "iam evaluation", "consumer principal", "endpoint", "network", "live")


@dataclass
class Check:
    id: str
    link: str
    account: str  # "provider" | "consumer" | "both"
    status: str
    evidence: str
    fix: str | None = None

    def __post_init__(self):
        assert self.status in STATUSES, self.status
        if self.status in (FAIL, WARN):
            assert self.fix, f"check {self.id}: a {self.status} needs a fix"

    def to_json(self) -> dict:
        return {"id": self.id, "link": self.link, "account": self.account, "status": self.status,
                "evidence": self.evidence, "fix": self.fix}


@dataclass
class DoctorReport:
    mode: str  # "state" | "stateless"
    deployment: str | None
    region: str
    accounts: dict
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def summary(self) -> dict:
        counts = {s: sum(1 for c in self.checks if c.status == s) for s in STATUSES}
        first = next((c for c in self.checks if c.status == FAIL), None)
        return {**counts, "total": len(self.checks), "healthy": not self.failed,
                "first_failure": first.id if first else None, "mode": self.mode, "deployment": self.deployment,
                "region": self.region, "accounts": self.accounts}

    def to_json(self) -> dict:
        return {"checks": [c.to_json() for c in self.checks], "summary": self.summary()}

    def get(self, check_id: str) -> Check:
        return next(c for c in self.checks if c.id == check_id)
