"""Adding a step is one declaration; adding a kind of resource is one module more. A tenth step that reuses a kind
another step records (a second KMS alias, in the deployment's alias namespace) is `declare(...)` and nothing else; a
tenth step that brings a new kind (an SSM parameter, tests/steps/ssm_parameter_type.py) and is otherwise only
`declare(...)` is put in the registries (as one entry in steps.STEPS and one in resource_types.MODULES would) and,
either way, is then picked up by plan, the executor, status, status --graph, doctor, export, permissions, discovery
by tag and teardown with no other edit; the generic planner (steps/declared.py) creates it, adopts it, repairs its
drift, replaces it and refuses one that is not this deployment's.
"""
from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION
from tests.helpers.operators import least_privilege
from tests.steps import ssm_parameter_type
from tests.steps.test_steps_moto import Deployment
from xacct_dataapi import doctor, graph, permissions, resource_types, steps
from xacct_dataapi import export as export_mod
from xacct_dataapi import state as state_mod
from xacct_dataapi.config import Names
from xacct_dataapi.discover import discover
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Account, Action, Resource, StepPlan
from xacct_dataapi.ownership import screen_state
from xacct_dataapi.resource_types.base import NotOurs
from xacct_dataapi.resource_types.kms import alias_logical_id
from xacct_dataapi.runner import Runner
from xacct_dataapi.planner import inspection_waves, no_longer_desired, plan_teardown
from xacct_dataapi.steps import kms_key
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


def test_a_declared_step_with_a_new_kind_is_everywhere(registered, operators, password, tmp_path):
    world = operators  # xacct as least-privilege operators (`--name orders`)
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


def test_the_generic_planner_adopts_repairs_replaces_and_refuses(registered, operators, password):
    world = operators  # xacct as least-privilege operators (`--name orders`)
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


# --------------------------------------------------------------------------- a tenth step reusing the KMS alias type

OWN_ALIAS, REPORTING_ALIAS = "alias/xacct-orders", "alias/xacct-orders/reporting"


def reporting_desired(ctx) -> list[Resource]:
    alias = f"{ctx.names.key_alias}/reporting"
    return [Resource("kms_alias", alias, Account.PROVIDER, properties={"TargetKeyId": ctx.known("key_id")},
                     arn=f"arn:{ctx.partition}:kms:{ctx.region}:{ctx.provider_account}:{alias}")]


REPORTING = declare(10, "reporting_alias", "Reporting alias (provider)", ("kms_alias",), reporting_desired,
                    needs=("key_id",))


@pytest.fixture
def reporting(monkeypatch):
    """The tenth step in steps.STEPS, as its one-line entry would put it; its kind's type is already registered."""
    monkeypatch.setattr(steps, "STEPS", steps.STEPS + (REPORTING,))


@pytest.fixture
def operators(world):
    """xacct's profiles as least-privilege operators whose provider policy is `xacct permissions --name orders`
    (not `--name '*'`, whose alias pattern would cover any alias): a grant the tenth step lacks fails the test."""
    from xacct_dataapi.sandbox import operators as sandbox_operators

    with least_privilege(world) as operated:
        doc = sandbox_operators.generated_policy("provider", region=REGION, provider=PROVIDER, consumer=CONSUMER,
                                                 cluster=world.cluster_id, vpc=world.vpc_id, name="orders")
        sandbox_operators.attach(operated.provider.client("iam"), doc)
        yield operated


def target(kms, alias: str) -> str | None:
    """The key an alias points at (None: no such alias)."""
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NotFoundException"
        return None


def test_the_alias_namespace_is_the_deployments_own():
    orders = Names("orders")
    assert orders.owns_alias(OWN_ALIAS) and orders.owns_alias(REPORTING_ALIAS)
    # '/' is no character of a deployment name: `orders` never claims `orders-x`'s aliases, nor they its.
    assert not orders.owns_alias("alias/xacct-orders-x") and not orders.owns_alias("alias/xacct-orders-x/reporting")
    assert not Names("orders-x").owns_alias(REPORTING_ALIAS) and not orders.owns_alias("alias/xacct-ordersx")
    assert not orders.owns_alias("alias/aws/xacct-orders")
    # Each alias its own logical id in a template, alphanumeric; `a-b` and `a_b` are two aliases, two ids.
    ids = {alias_logical_id(f"{OWN_ALIAS}/{s}", OWN_ALIAS) for s in ("a-b", "a_b", "a/b", "ab")}
    assert len(ids) == 4 and all(i.isalnum() and i.lower().startswith("keyaliasab") for i in ids)
    assert alias_logical_id(OWN_ALIAS, OWN_ALIAS) == "KeyAlias"
    assert len(alias_logical_id(f"{OWN_ALIAS}/" + "x" * 230, OWN_ALIAS)) <= 255


def test_the_key_step_no_longer_desires_only_its_own_rows():
    """The kms_key step declares kms_alias too: before rows were attributed by ResourceRow.step, it counted the tenth
    step's alias as its own, no longer desired, and planned its deletion."""
    state = state_mod.State(name="orders", resources=[
        state_mod.ResourceRow(1, "kms_key", "k-1", "provider"),
        state_mod.ResourceRow(1, "kms_alias", OWN_ALIAS, "provider"),
        state_mod.ResourceRow(10, "kms_alias", REPORTING_ALIAS, "provider")])
    plan = StepPlan(1, "kms_key", "KMS key", Action.NOOP, "", desired=[
        Resource("kms_key", "k-1", Account.PROVIDER), Resource("kms_alias", OWN_ALIAS, Account.PROVIDER)])
    registered_steps = steps.STEPS + (REPORTING,)
    assert no_longer_desired(plan, kms_key.STEP, state, {}, registered_steps) == []
    # Teardown names each alias under the step that recorded it.
    torn = plan_teardown(state, registered_steps)
    assert [(s.number, [c.params.get("AliasName") for c in s.calls]) for s in torn.steps][0] == (10, [REPORTING_ALIAS])
    # An old state file (one step declared the kind): its alias rows stay the key step's, replaced as before.
    assert no_longer_desired(plan, kms_key.STEP, state, {}, steps.STEPS) == [state.resources[2]]


def test_a_declared_step_reusing_a_kind_is_everywhere(reporting, operators, password, tmp_path):
    dep = Deployment(operators, password)
    kms = operators.provider.client("kms")  # the account's administrator: to look, and to play the other hand

    # plan, then the executor (as the least-privilege operator): made, pointing at the key, recorded by step 10.
    ctx, plan = dep.plan()
    assert step10(plan).action is Action.CREATE and step10(plan).reason == f"no KMS alias {REPORTING_ALIAS}"
    assert [c.label for c in step10(plan).calls] == ["kms:create_alias"]
    dep.apply(ctx, plan)
    key_id = dep.load().find("kms_key").id
    assert target(kms, REPORTING_ALIAS) == key_id and target(kms, OWN_ALIAS) == key_id
    assert [(r.step, r.id) for r in dep.load().resources if r.kind == "kms_alias"] == [
        (1, OWN_ALIAS), (10, REPORTING_ALIAS)]

    # re-run: nothing to do, the key step's own alias untouched.
    ctx, plan = dep.plan()
    assert step10(plan).action is Action.NOOP and not step10(plan).calls
    key_step = next(s for s in plan.steps if s.key == "kms_key")
    assert key_step.action is Action.NOOP and not key_step.calls

    # status and status --graph: each alias under the step that recorded it.
    report = status_report(plan, dep.load())
    by_number = {s["number"]: s for s in report["steps"]}
    assert by_number[10]["status"] == "done"
    assert [r["id"] for r in by_number[10]["resources"]] == [REPORTING_ALIAS]
    assert REPORTING_ALIAS not in [r["id"] for r in by_number[1]["resources"]]
    assert any(f"kms_alias {REPORTING_ALIAS}" in json.dumps(n, default=vars) for n in graph.build(plan, report))

    # doctor: the chain reads the key's own alias; the tenth step's by its type's ownership test.
    check = doctor.run(dep.path).get("kms_alias.ours")
    assert check.status == "ok" and REPORTING_ALIAS in check.evidence and key_id in check.evidence

    # export: both aliases, each its own logical id, both naming the template's key.
    files = export_mod.export(dep.path, tmp_path / "out")
    provider = yaml.safe_load(next(f for f in files if f.stem == "provider").read_text())
    aliases = {lid: r["Properties"] for lid, r in provider["Resources"].items() if r["Type"] == "AWS::KMS::Alias"}
    assert sorted(p["AliasName"] for p in aliases.values()) == [OWN_ALIAS, REPORTING_ALIAS] and len(aliases) == 2
    assert all(p["TargetKeyId"] == {"Ref": "Key"} for p in aliases.values())
    assert aliases["KeyAlias"]["AliasName"] == OWN_ALIAS
    assert [lid for lid in aliases if lid != "KeyAlias"][0].startswith("KeyAliasReporting")

    # permissions: the alias statement covers the namespace and nothing of `orders-x`'s.
    doc = permissions.policy_for_cli("provider", "all", name="orders", region=REGION, provider=PROVIDER,
                                     consumer=CONSUMER, cluster=operators.cluster_id, vpc=operators.vpc_id)
    (manage,) = [st for st in doc["Statement"] if st["Sid"] == "ManageXacctAliases"]
    arn = f"arn:aws:kms:{REGION}:{PROVIDER}:alias/"
    assert {arn + "xacct-orders", arn + "xacct-orders/*"} <= set(manage["Resource"])
    assert not any(r.startswith(arn) and r.endswith("*") and "xacct-orders/" not in r for r in manage["Resource"])

    # discovery without the state file: the aliases of the deployment's keys in its namespace, each under its step.
    # An alias outside the namespace names no deployment of ours, even pointing at our key.
    kms.create_alias(AliasName="alias/xacct-orders-x/reporting", TargetKeyId=key_id)
    found = discover(ctx.aws, "orders", ctx.consumer_account, ctx.provider_account)
    assert [(r.step, r.id) for r in found.resources if r.kind == "kms_alias"] == [
        (1, OWN_ALIAS), (10, REPORTING_ALIAS)]

    # drift: the alias moved by hand to another key of this deployment is pointed back (UpdateAlias), nothing else.
    other = kms.create_key(Tags=[{"TagKey": k, "TagValue": v} for k, v in dep.names.tags().items()])
    kms.update_alias(AliasName=REPORTING_ALIAS, TargetKeyId=other["KeyMetadata"]["KeyId"])
    ctx, plan = dep.plan()
    assert step10(plan).action is Action.REPAIR and step10(plan).problems == [
        f"{REPORTING_ALIAS} points at key {other['KeyMetadata']['KeyId']}, desired key {key_id}"]
    assert [c.label for c in step10(plan).calls] == ["kms:update_alias"]
    assert next(s for s in plan.steps if s.key == "kms_key").action is Action.NOOP
    dep.apply(ctx, plan)
    assert target(kms, REPORTING_ALIAS) == key_id and target(kms, OWN_ALIAS) == key_id
    kms.schedule_key_deletion(KeyId=other["KeyMetadata"]["KeyId"], PendingWindowInDays=7)

    # adopt: the alias exists and is ours, but the state file lost its row: recorded again, under step 10.
    state = dep.load()
    state.forget("kms_alias", REPORTING_ALIAS)
    state_mod.save(state, dep.path)
    ctx, plan = dep.plan()
    assert [c.label for c in step10(plan).calls] == ["record"]
    dep.apply(ctx, plan)
    assert dep.load().find("kms_alias", REPORTING_ALIAS).step == 10

    # replace: the declaration now names another alias; the old one is deleted (guarded) after the new one is made,
    # and only step 10's row is replaced: the key step's own alias stays.
    renamed = f"{REPORTING_ALIAS}-v2"
    moved = declare(10, "reporting_alias", "Reporting alias (provider)", ("kms_alias",),
                    lambda c: [dataclasses.replace(reporting_desired(c)[0], id=renamed)], needs=("key_id",))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(steps, "STEPS", steps.STEPS[:-1] + (moved,))
        ctx, plan = dep.plan()
        assert step10(plan).action is Action.REPLACE
        assert [c.label for c in step10(plan).calls] == ["kms:create_alias", "kms:delete_alias"]
        assert next(s for s in plan.steps if s.key == "kms_key").action is Action.NOOP
        dep.apply(ctx, plan)
        assert target(kms, REPORTING_ALIAS) is None and target(kms, renamed) == key_id == target(kms, OWN_ALIAS)
        rows = [(r.step, r.id) for r in dep.load().resources if r.kind == "kms_alias"]
        assert rows == [(1, OWN_ALIAS), (10, renamed)]

    # teardown: a state row naming `orders-x`'s alias (pointing at our key!) is refused, by its guard alone too.
    foreign = state_mod.ResourceRow(10, "kms_alias", "alias/xacct-orders-x/reporting", "provider")
    lone = state_mod.State(name="orders", region=REGION, resources=[foreign])
    with pytest.raises(NotOurs, match="this deployment's aliases are alias/xacct-orders and those under"):
        Runner(ctx.aws, lone, tmp_path / "lone.json").execute(plan_teardown(lone))
    state = dep.load()
    state.record(foreign)
    screened = screen_state(ctx.aws, state)
    assert [row.id for row, _ in screened.refused] == [foreign.id] and not screened.found
    state_mod.save(state, dep.path)
    plan, runner, state = dep.teardown()
    guarded = [c for s in plan.steps for c in s.calls if c.label.endswith("delete_alias")]
    assert len(guarded) == 2 and all(c.guard["deployment"] == "orders" for c in guarded)
    assert target(kms, OWN_ALIAS) is None and target(kms, renamed) is None
    assert runner.calls_made.count("kms.delete_alias") == 2 and not state.find("kms_alias")
    assert target(kms, foreign.id) == key_id
    kms.delete_alias(AliasName=foreign.id)


def test_another_deployments_alias_in_the_namespace_is_refused(reporting, operators, password):
    """An alias of this deployment's name that points at a key tagged for another deployment is neither adopted nor
    repointed."""
    world = operators  # xacct as least-privilege operators (`--name orders`)
    kms = world.provider.client("kms")
    theirs = kms.create_key(Tags=[{"TagKey": "xacct:deployment", "TagValue": "orders-x"},
                                  {"TagKey": "xacct:managed-by", "TagValue": "xacct"}])["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=REPORTING_ALIAS, TargetKeyId=theirs)
    with pytest.raises(UsageError, match=f"KMS alias named '{REPORTING_ALIAS}' already exists.*not tagged"):
        Deployment(world, password).plan()
    assert target(kms, REPORTING_ALIAS) == theirs


def test_discovery_pages_through_the_aliases_of_the_deployments_keys(operators):
    """Aliases carry no tags: discovery lists those of the keys tagged for the deployment (ListAliases by KeyId,
    which the sandbox answers in pages of 50 as AWS does), reads only the ones in its namespace, and asks nothing
    of the account's other keys, however many deployments it holds. Discovery runs as the operator of `--name
    orders`; the keys and aliases are made by the account's administrator."""
    world = operators
    from xacct_dataapi.aws import Sessions
    from xacct_dataapi.discover import Finder
    from xacct_dataapi.resource_types import TYPES

    kms = world.provider.client("kms")
    ours = kms.create_key(Tags=[{"TagKey": k, "TagValue": v} for k, v in Names("orders").tags().items()])
    theirs = kms.create_key(Tags=[{"TagKey": k, "TagValue": v} for k, v in Names("orders-x").tags().items()])
    mine = [f"{REPORTING_ALIAS}-{n:02}" for n in range(60)]
    for alias in mine:
        kms.create_alias(AliasName=alias, TargetKeyId=ours["KeyMetadata"]["KeyId"])
    kms.create_alias(AliasName="alias/xacct-orders-x/reporting", TargetKeyId=ours["KeyMetadata"]["KeyId"])
    kms.create_alias(AliasName="alias/xacct-orders-x", TargetKeyId=theirs["KeyMetadata"]["KeyId"])
    assert kms.list_aliases(KeyId=ours["KeyMetadata"]["KeyId"])["Truncated"]  # 61 aliases: more than one page

    finder = Finder(Sessions.from_profiles("consumer", "provider", REGION), "orders")
    calls: list[tuple[str, dict]] = []
    finder.client(Account.PROVIDER, "kms").meta.events.register(
        "provide-client-params.kms.*", lambda params, model, **_: calls.append((model.name, dict(params))))
    found = TYPES["kms_alias"].find(finder)
    assert [alias for alias, _ in found] == mine
    assert [p["KeyId"] for name, p in calls if name == "ListAliases"] == [ours["KeyMetadata"]["Arn"]] * 2
    assert not any("orders-x" in str(p) or theirs["KeyMetadata"]["KeyId"] in str(p) for _, p in calls)
