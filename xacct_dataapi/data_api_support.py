"""Which Aurora clusters the RDS Data API runs on, as AWS documents it (docs/aws-facts.md, "Data API support").
Pure: setup's preflight asks it before turning the Data API on (before any write), doctor asks it for its check.

- Aurora PostgreSQL, Serverless v2 and provisioned: 13.11+, 14.8+, 15.3+, 16.1+, 17.4+, 18.3+ ("Supported Regions and
  Aurora DB engines for RDS Data API", https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
  Concepts.Aurora_Fea_Regions_DB-eng.Feature.Data_API.html). A major version newer than the table is assumed supported.
- Aurora MySQL, Serverless v2 and provisioned: version 3.07 and later (same page; Aurora MySQL version strings look like
  `8.0.mysql_aurora.3.07.1`).
- Not on T instance classes; the writer runs the statements ("RDS Data API limitations",
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.limitations.html).
- Serverless v1 had the Data API but reached end of support on 2025-03-31 ("Aurora Serverless v1 end of life",
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless.relnotes.html): still served (teardown
  must keep working), reported as end of support.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

PG_MINIMUM = {13: 11, 14: 8, 15: 3, 16: 1, 17: 4, 18: 3}
MYSQL_MINIMUM = (3, 7)
V1_END_OF_SUPPORT = "2025-03-31"


@dataclass(frozen=True)
class Verdict:
    supported: bool | None  # None: not known (a version string xacct cannot read)
    why: str
    fix: str = ""
    end_of_support: bool = False


def _pg(version: str) -> tuple[int, int] | None:
    m = re.match(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _mysql(version: str) -> tuple[int, int] | None:
    m = re.search(r"mysql_aurora\.(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else None


def nearest_pg(major: int) -> str:
    """The first supported version at or above this major (what to upgrade to)."""
    for m in sorted(PG_MINIMUM):
        if m >= major:
            return f"{m}.{PG_MINIMUM[m]}"
    return f"{max(PG_MINIMUM)}.{PG_MINIMUM[max(PG_MINIMUM)]}"


def verdict(engine: str, version: str, mode: str, writer_class: str | None = None) -> Verdict:
    what = f"{engine} {version} ({mode})"
    if engine not in ("aurora-postgresql", "aurora-mysql"):
        return Verdict(False, f"{what}: the Data API runs only on Aurora MySQL and Aurora PostgreSQL",
                       "Use an Aurora MySQL or Aurora PostgreSQL cluster.")
    if mode == "serverless":
        return Verdict(True, f"{what}: Serverless v1 reached end of support on {V1_END_OF_SUPPORT}",
                       "Migrate the cluster to Serverless v2 (AWS's in-place upgrade); the Data API keeps working "
                       "there, switched by EnableHttpEndpoint.", end_of_support=True)
    if writer_class and writer_class.startswith("db.t"):
        return Verdict(False, f"{what}: its writer is {writer_class}, and the Data API does not run on T classes",
                       "Move the writer to db.serverless or a non-T class (`aws rds modify-db-instance "
                       "--db-instance-class db.r6g.large --apply-immediately`).")
    if engine == "aurora-mysql":
        got = _mysql(version)
        if got is None:
            return Verdict(None, f"{what}: version not understood")
        if got >= MYSQL_MINIMUM:
            return Verdict(True, f"{what} supports the Data API")
        return Verdict(False, f"{what} does not support the Data API (Aurora MySQL 3.07 or later does)",
                       "Upgrade to Aurora MySQL 3.07 or later (`aws rds modify-db-cluster --engine-version "
                       "8.0.mysql_aurora.3.07.1 --apply-immediately`).")
    got = _pg(version)
    if got is None:
        return Verdict(None, f"{what}: version not understood")
    major, minor = got
    if major > max(PG_MINIMUM) or (major in PG_MINIMUM and minor >= PG_MINIMUM[major]):
        return Verdict(True, f"{what} supports the Data API")
    need = ", ".join(f"{k}.{v}" for k, v in PG_MINIMUM.items())
    return Verdict(False, f"{what} does not support the Data API (it needs one of {need} or later); the nearest "
                          f"supported version is {nearest_pg(major)}",
                   f"Upgrade: `aws rds modify-db-cluster --engine-version {nearest_pg(major)} "
                   "--allow-major-version-upgrade --apply-immediately`.")
