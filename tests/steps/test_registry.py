"""Adding a step is one module plus one line in the step list: a dummy tenth step in a test-only registry is
picked up by plan, the executor, status, teardown and lost-state discovery without any other edit.

The dummy step keeps an SSM parameter in the provider account (moto simulates SSM), tagged like every
resource xacct makes, so discovery can find it again.
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.aws import Sessions
from xacct_dataapi.config import TAG_DEPLOYMENT, Config
from xacct_dataapi.context import build_context
from xacct_dataapi.discover import discover
from xacct_dataapi.models import Account, Action, Call, Inspection, Record, Resource, Step, StepPlan
from xacct_dataapi.planner import inspection_waves, plan_setup, plan_teardown
from xacct_dataapi.runner import Runner
from xacct_dataapi.state import ResourceRow, State
from xacct_dataapi.status import status_report
from xacct_dataapi.steps import STEPS

NAME = "orders"


def _parameter(names) -> str:
    return f"/{names.prefix}/audit-marker"


def inspect(ctx, known) -> Inspection:
    ssm = ctx.client(Account.PROVIDER, "ssm")
    try:
        ssm.get_parameter(Name=_parameter(ctx.names))
        return Inspection({"exists": True})
    except ClientError:
        return Inspection({"exists": False})


def desired(ctx) -> list[Resource]:
    # It reads a value another step's inspection provides (the key ARN), so it must run in a later wave.
    return [Resource("audit_marker", _parameter(ctx.names), Account.PROVIDER, tags=ctx.names.tags(),
                     properties={"Value": f"key={ctx.known('key_arn')}"})]


def plan(ctx, facts, desired) -> StepPlan:
    (want,) = desired
    step = StepPlan(10, "audit_marker", "Audit marker (provider)", Action.NOOP, "the marker exists")
    if not facts["exists"]:
        step.action, step.reason = Action.CREATE, "no audit marker"
        step.calls.append(Call(Account.PROVIDER, "ssm", "put_parameter",
                               {"Name": want.id, "Value": "xacct", "Type": "String",
                                "Tags": [{"Key": k, "Value": v} for k, v in want.tags.items()]},
                               record=Record("audit_marker", want.id), description="write the audit marker"))
    return step


def teardown(row, state) -> list:
    return [Call(Account.PROVIDER, "ssm", "delete_parameter", {"Name": row.id}, forget=(row.kind, row.id),
                 ok_codes=("ParameterNotFound",), description=f"delete {row.id}")]


def find_again(find) -> list[ResourceRow]:
    ssm = find.client(Account.PROVIDER, "ssm")
    name = _parameter(find.names)
    try:
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    except ClientError:
        return []
    if {"Key": TAG_DEPLOYMENT, "Value": find.names.deployment} in tags:
        return [ResourceRow(10, "audit_marker", name, Account.PROVIDER.value)]
    return []


AUDIT_MARKER = Step(10, "audit_marker", "Audit marker (provider)", ("audit_marker",), inspect=inspect, desired=desired,
                    plan=plan, teardown=teardown, needs=("key_id",), discover=find_again)
REGISTRY = STEPS + (AUDIT_MARKER,)


def test_a_tenth_step_is_picked_up_by_plan_status_teardown_and_discovery(world, password):
    cfg = Config(name=NAME, consumer_profile="consumer", provider_profile="provider", cluster=world.cluster_id,
                 vpc_id=world.vpc_id, subnet_ids=world.subnet_ids, enable_data_api=True).validate()
    aws = Sessions.from_profiles("consumer", "provider", None)
    ssm = world.provider.client("ssm")

    # Inspection waves come from `needs`: the new step waits for the step that provides the key id.
    waves = [[s.key for s in wave] for wave in inspection_waves(REGISTRY)]
    assert "audit_marker" in waves[1] and "kms_key" in waves[0]

    # plan: the new step is planned, in order, with its reason.
    state = State(name=NAME)
    ctx = build_context(cfg, aws, state, lambda: password)
    plan = plan_setup(ctx, REGISTRY)
    assert [s.key for s in plan.steps][-1] == "audit_marker"
    assert plan.steps[-1].action is Action.CREATE and plan.steps[-1].reason == "no audit marker"

    # the executor: it makes the call and records the row.
    state.region, state.accounts = aws.region, {"consumer": ctx.consumer_account, "provider": ctx.provider_account}
    state.values.update({k: v for k, v in ctx.values.items() if v is not None})
    state.values["cluster_engine_mode"] = ctx.cluster.engine_mode
    Runner(aws, state, None, sleep=lambda s: None).execute(plan)
    assert ssm.get_parameter(Name="/xacct-orders/audit-marker")["Parameter"]["Value"] == "xacct"
    assert state.find("audit_marker", "/xacct-orders/audit-marker")

    # status: step 10 is reported, done, with its desired resource and its recorded row.
    ctx = build_context(cfg, aws, state, lambda: password)
    report = status_report(plan_setup(ctx, REGISTRY), state, REGISTRY)
    (row,) = [s for s in report["steps"] if s["number"] == 10]
    assert row["status"] == "done" and row["resources"][0]["id"] == "/xacct-orders/audit-marker"
    assert row["desired"] == [{"kind": "audit_marker", "id": "/xacct-orders/audit-marker", "account": "provider"}]

    # lost-state discovery finds it by its tag.
    found = discover(aws, NAME, ctx.consumer_account, ctx.provider_account, REGISTRY)
    assert ("audit_marker", "/xacct-orders/audit-marker") in [(r.kind, r.id) for r in found.resources]

    # teardown deletes it like any other recorded row.
    teardown = plan_teardown(state, REGISTRY)
    assert "ssm:delete_parameter" in [c.label for c in teardown.calls]
    Runner(aws, state, None, sleep=lambda s: None).execute(teardown)
    assert state.resources == []
    try:
        ssm.get_parameter(Name="/xacct-orders/audit-marker")
        raise AssertionError("the parameter should be gone")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ParameterNotFound"
