"""xacct doctor against moto: a healthy deployment passes, each broken link fails its own check (naming the
resource, giving a fix) and only that one."""
from __future__ import annotations

import json

from tests.helpers.operators import grant
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
    # SimulatePrincipalPolicy is answered by the sandbox's evaluator in-process too (tests/helpers/operators.py)
    assert by_id["iam.simulate"].status == OK, by_id["iam.simulate"]
    assert by_id["live.statement"].status == SKIPPED
    assert calls.seen and calls.mutating() == []


def test_healthy_with_full_access_endpoint_and_adopted_role(world, password):
    from tests.steps.test_steps_moto import Deployment

    world.consumer.client("iam").create_role(RoleName="orders-app", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    grant(world, consumer_role="orders-app")  # `xacct permissions --consumer-role orders-app`
    dep = Deployment(world, password, endpoint_policy="full", consumer_role="orders-app")
    dep.apply()
    report = doctor.run(dep.path)
    assert failed(report) == [], [c.to_json() for c in report.checks if c.status == FAIL]
    assert "full-access default" in report.get("endpoint.policy-admits").evidence
    # No key to mint: verify assumes the role with the consumer profile, which its trust (ECS tasks only) refuses,
    # as AWS does: not a broken link, a skip that says so.
    live = report.get("live.statement")
    assert live.status == SKIPPED and "cannot act as the consumer principal" in live.evidence, live
