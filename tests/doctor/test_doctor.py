"""xacct doctor against moto: a healthy deployment passes, each broken link fails its own check (naming the
resource, giving a fix) and only that one."""
from __future__ import annotations

import json

from xacct_dataapi import doctor
from xacct_dataapi.doctor.model import FAIL, OK, SKIPPED


def run(dep, **kw):
    return doctor.run(dep.path, **kw)


def failed(report) -> list[str]:
    return [c.id for c in report.checks if c.status == FAIL]


def test_healthy_deployment_passes_read_only(deployed, calls):
    report = run(deployed)
    assert failed(report) == [], [c.to_json() for c in report.checks if c.status == FAIL]
    assert report.exit_code == 0
    by_id = {c.id: c for c in report.checks}
    print(json.dumps(report.to_json(), indent=1))
    assert by_id["iam.simulate"].status == SKIPPED and "not available" in by_id["iam.simulate"].evidence
    assert by_id["live.statement"].status == SKIPPED
    assert calls.seen and calls.mutating() == []
