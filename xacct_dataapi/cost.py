"""What a deployment keeps costing while it exists: ONE dated price table, and the monthly estimate from it.

An ESTIMATE from us-east-1 list prices (other regions differ by a few percent; taxes, free tiers, data processed
and your own discounts are not included). Sources: docs/aws-facts.md and the pages named below.
"""
from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2026-12-01"
PRICES_REGION = "us-east-1"
HOURS_PER_MONTH = 730  # AWS's own pricing examples use 730 hours a month


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str


PRICES = {
    # Billed per endpoint per AZ-hour; a partial hour is a full hour. Data processed ($0.01/GB) is not included.
    "endpoint_az_hour": Price(0.01, "per interface endpoint per AZ-hour", "https://aws.amazon.com/privatelink/pricing/"),
    # Prorated hourly; nothing while scheduled for deletion; requests beyond 20,000 a month cost $0.03 per 10,000.
    "kms_key_month": Price(1.00, "per customer-managed key per month", "https://aws.amazon.com/kms/pricing/"),
    # Plus $0.05 per 10,000 API calls (secondary source; confirm on aws.amazon.com/secrets-manager/pricing).
    "secret_month": Price(0.40, "per secret per month", "https://aws.amazon.com/secrets-manager/pricing/"),
}
# The Data API's own request price is not in the estimate: no stored copy of AWS's pricing page confirms a figure,
# and requests are metered per 32 KB of payload, so the cost depends on usage in a way xacct cannot know.
REQUESTS_NOTE = ("Data API requests are billed by usage, metered in 32 KB units: see "
                 "https://aws.amazon.com/rds/aurora/pricing/")

NOTE = f"estimate, {PRICES_REGION} list prices as of {PRICES_AS_OF}"


def monthly(azs: int, *, endpoint: bool = True, keys: int = 1, secrets: int = 1) -> dict:
    """The monthly estimate of what runs without any traffic, plus the per-request price (usage is yours)."""
    lines = []
    if endpoint and azs:
        lines.append({"what": f"interface endpoint, {azs} AZ × {HOURS_PER_MONTH} h × ${PRICES['endpoint_az_hour'].usd:.2f}",
                      "usd": round(azs * HOURS_PER_MONTH * PRICES["endpoint_az_hour"].usd, 2)})
    if keys:
        lines.append({"what": f"KMS key × {keys}", "usd": round(keys * PRICES["kms_key_month"].usd, 2)})
    if secrets:
        lines.append({"what": f"secret × {secrets}", "usd": round(secrets * PRICES["secret_month"].usd, 2)})
    return {"usd_per_month": round(sum(line["usd"] for line in lines), 2), "lines": lines,
            "requests": REQUESTS_NOTE, "note": NOTE}


def summary(estimate: dict) -> str:
    """One line: '≈ $16.00/month (endpoint …), plus Data API requests by usage (estimate, …)'."""
    parts = "; ".join(f"{line['what']} = ${line['usd']:.2f}" for line in estimate["lines"])
    return (f"Keeps costing ≈ ${estimate['usd_per_month']:.2f}/month ({parts}), plus Data API requests by usage "
            f"({estimate['note']}).")


def for_state(state) -> dict:
    """From the state file alone: what this deployment recorded (its endpoint's AZs are its subnets)."""
    kinds = [r.kind for r in state.resources]
    azs = len(state.config.get("subnet_ids") or ())
    return monthly(azs, endpoint="vpc_endpoint" in kinds, keys=kinds.count("kms_key"), secrets=kinds.count("secret"))


def for_config(subnet_ids) -> dict:
    """What a completed setup keeps running: one endpoint in the subnets' AZs, one key, one secret."""
    return monthly(len(subnet_ids))
