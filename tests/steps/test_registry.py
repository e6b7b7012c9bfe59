"""Adding a step is one declaration; adding a kind of resource is one module more. A tenth step that brings a new
kind (an SSM parameter, tests/steps/ssm_parameter_type.py) and is otherwise only `declare(...)` is put in the
registries (as one entry in steps.STEPS and one in resource_types.MODULES would) and is then picked up by plan,
the executor, status, status --graph, doctor, export, permissions, discovery by tag and teardown with no other edit;
the generic planner (steps/declared.py) creates it, adopts it, repairs its drift, replaces it and refuses one that
is not this deployment's.
"""
from __future__ import annotations

import json

import pytest
import yaml
from botocore.exceptions import ClientError

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from tests.steps import ssm_parameter_type
from tests.steps.test_steps_moto import Deployment
from xacct_dataapi import doctor, graph, permissions, resource_types, steps
from xacct_dataapi import export as export_mod
from xacct_dataapi import state as state_mod
from xacct_dataapi.discover import discover
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Account, Action, Resource
from xacct_dataapi.planner import inspection_waves
from xacct_dataapi.status import status_report
from xacct_dataapi.steps.declared import declare

PARAMETER = "/xacct-orders/audit-marker"


def marker_desired(ctx) -> list[Resource]:
    # Its value names the key, which another step's inspection provides: the step runs in a later wave.
    return [Resource("ssm_parameter", f"/{ctx.names.prefix}/audit-marker", Account.PROVIDER, tags=ctx.names.tags(),
                     properties={"Value": f"audited:{ctx.names.deployment}"})]


AUDIT_MARKER = declare(10, "audit_marker", "Audit marker (provider)", ("ssm_parameter",), marker_desired,
                       needs=("key_id",))


@pytest.fixture
def registered(monkeypatch):
    """The tenth step and its kind in the registries, as their one-line entries would put them."""
    monkeypatch.setattr(steps, "STEPS", steps.STEPS + (AUDIT_MARKER,))
    resource_types.register(ssm_parameter_type)
    yield
    resource_types.unregister(ssm_parameter_type)


def parameter(world) -> dict | None:
    try:
        return world.provider.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ParameterNotFound"
        return None


def step10(plan):
    return next(s for s in plan.steps if s.number == 10)


def test_a_declared_step_with_a_new_kind_is_everywhere(registered, world, password, tmp_path):
    dep = Deployment(world, password)
    waves = [[s.key for s in wave] for wave in inspection_waves(steps.registered())]
    assert "kms_key" in waves[0] and "audit_marker" in waves[1]

    # plan, then the executor: made, tagged, recorded.
    ctx, plan = dep.plan()
    assert step10(plan).action is Action.CREATE and step10(plan).reason == f"no SSM parameter {PARAMETER}"
    dep.apply(ctx, plan)
    assert parameter(world)["Value"] == "audited:orders"
    tags = world.provider.client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=PARAMETER)
    assert {"Key": "xacct:deployment", "Value": "orders"} in tags["TagList"]
    assert dep.load().find("ssm_parameter", PARAMETER)

    # status and status --graph: done, with its desired and recorded resource.
    ctx, plan = dep.plan()
    assert step10(plan).action is Action.NOOP and not step10(plan).calls
    report = status_report(plan, dep.load())
    (row,) = [s for s in report["steps"] if s["number"] == 10]
    assert row["status"] == "done" and row["resources"][0]["id"] == PARAMETER
    nodes = graph.build(plan, report)
    assert any(f"ssm_parameter {PARAMETER}" in json.dumps(n, default=vars) for n in nodes)

    # doctor: the kind the chain does not read is checked by its type's ownership test.
    check = doctor.run(dep.path).get("ssm_parameter.ours")
    assert check.status == "ok" and PARAMETER in check.evidence

    # export: the type's mapping, in the provider template.
    files = export_mod.export(dep.path, tmp_path / "out")
    provider = yaml.safe_load(next(f for f in files if f.stem == "provider").read_text())
    (res,) = [r for r in provider["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]
    assert res["Properties"]["Name"] == PARAMETER and res["Properties"]["Tags"]["xacct:deployment"] == "orders"
    assert provider["Metadata"]["xacct"]["implements"]["ParameterXacctOrdersAuditMarker"] == ["ssm_parameter"]

    # permissions: the type's grants, for the commands that make its calls.
    assert {"ssm:PutParameter", "ssm:GetParameter"} <= permissions.allowed_actions("provider", "setup")
    assert "ssm:DeleteParameter" in permissions.allowed_actions("provider", "teardown")
    assert "ssm:PutParameter" not in permissions.allowed_actions("provider", "status")

    # discovery by tag, without the state file.
    found = discover(ctx.aws, "orders", ctx.consumer_account, ctx.provider_account)
    assert ("ssm_parameter", PARAMETER) in [(r.kind, r.id) for r in found.resources]

    # teardown: deleted through its type (guarded), forgotten.
    _, runner, state = dep.teardown()
    assert parameter(world) is None and not state.find("ssm_parameter", PARAMETER)
    assert "ssm.delete_parameter" in runner.calls_made


def test_the_generic_planner_adopts_repairs_replaces_and_refuses(registered, world, password):
    dep = Deployment(world, password)
    dep.apply()
    ssm = world.provider.client("ssm")

    # drift: the value changed by hand is written again, the difference named.
    ssm.put_parameter(Name=PARAMETER, Value="edited", Type="String", Overwrite=True)
    _, plan = dep.plan()
    assert step10(plan).action is Action.REPAIR and step10(plan).problems == [
        "value is 'edited', desired 'audited:orders'"]
    dep.apply()
    assert parameter(world)["Value"] == "audited:orders"

    # adopt: exists and is ours, but the state file lost its row.
    state = dep.load()
    state.forget("ssm_parameter", PARAMETER)
    state_mod.save(state, dep.path)
    _, plan = dep.plan()
    assert [c.label for c in step10(plan).calls] == ["record"]
    dep.apply()
    assert dep.load().find("ssm_parameter", PARAMETER)

    # replace: the declaration now names another parameter; the old one is deleted after the new one is made.
    renamed = "/xacct-orders/audit-marker-2"
    moved = declare(10, "audit_marker", "Audit marker (provider)", ("ssm_parameter",),
                    lambda ctx: [Resource("ssm_parameter", renamed, Account.PROVIDER, tags=ctx.names.tags(),
                                          properties={"Value": "v2"})], needs=("key_id",))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(steps, "STEPS", steps.STEPS[:-1] + (moved,))
        _, plan = dep.plan()
        assert step10(plan).action is Action.REPLACE
        assert [c.label for c in step10(plan).calls] == ["ssm:put_parameter", "ssm:delete_parameter"]
        dep.apply()
    assert parameter(world) is None and ssm.get_parameter(Name=renamed)["Parameter"]["Value"] == "v2"
    assert [r.id for r in dep.load().resources if r.kind == "ssm_parameter"] == [renamed]
    ssm.delete_parameter(Name=renamed)

    # refuse: a parameter of that name tagged for another deployment is neither adopted nor changed.
    ssm.put_parameter(Name=PARAMETER, Value="theirs", Type="String", Tags=[{"Key": "xacct:deployment", "Value": "x"}])
    with pytest.raises(UsageError, match=f"SSM parameter named '{PARAMETER}' already exists.*not tagged") as info:
        dep.plan()
    assert "xacct:deployment=orders" in info.value.message
    assert parameter(world)["Value"] == "theirs"
