"""The plan is pure data (issue 26): every item of every kind of plan xacct makes (a first setup with the Data API
switch, a replaced access role, a re-run with drift, a second deployment joining the VPC's shared endpoint, a consumer
principal replaced, the teardowns that leave and delete that endpoint, and a teardown of every kind of row) holds no
callable anywhere, names only registered procedures, and prints (`--dry-run --output json`) as JSON that survives
json.dumps unaided, with the secret nowhere in it, and with the IAM actions of every item a security reviewer reads.

The plans are made against moto in one module-scoped world, each applied as `xacct setup` or `xacct teardown` would,
so the next one starts from what AWS then holds; each is also checked to be the kind it claims (its actions and item
names). What each procedure declares it calls (procedures.py) is held against the truth twice: `xacct permissions`
for the command whose plan names it grants every action, and its runs here call none it did not declare."""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest
from botocore import xform_name

from tests.helpers.counting import ProcedureCalls
from tests.helpers.operators import grant, least_privilege
from tests.helpers.pipeline import apply_setup, apply_teardown, plan_for
from tests.helpers.profiles import isolate
from tests.helpers.world import open_sessions, seed
from tests.security.test_permissions import FULL, is_real_operation
from xacct_dataapi import permissions, procedures
from xacct_dataapi.config import Config, Names, state_path_for
from xacct_dataapi.models import Action, Operation, Plan, SecretInput, Sensitive, Wait
from xacct_dataapi.planner import plan_teardown
from xacct_dataapi.render import plan_json
from xacct_dataapi.state import ResourceRow, State
from xacct_dataapi.waiting import state_of

PASSWORD = "s3cret-Passw0rd-plan-is-data"
PACKAGE = Path(__file__).resolve().parents[2] / "xacct_dataapi"

pytestmark = pytest.mark.usefixtures("fast_aws")


def callables_in(value, where: str = "plan") -> list[str]:
    """Where a callable sits inside a plan value: every dataclass field (a Sensitive's document and its SecretInputs
    too), dict key and value, list and tuple item."""
    if callable(value) and not isinstance(value, type):
        return [f"{where}: {value!r}"]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [c for f in dataclasses.fields(value) for c in callables_in(getattr(value, f.name), f"{where}.{f.name}")]
    if isinstance(value, dict):
        return [c for k, v in value.items() for c in callables_in(k, where) + callables_in(v, f"{where}[{k!r}]")]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [c for n, v in enumerate(value) for c in callables_in(v, f"{where}[{n}]")]
    return []


def config(world, name: str, **extra) -> Config:
    return Config(name=name, consumer_profile="consumer", provider_profile="provider", cluster=world.cluster_id,
                  vpc_id=world.vpc_id, subnet_ids=world.subnet_ids, **extra).validate()


def setup(cfg: Config, plans: dict, key: str, *, apply: bool = True) -> Plan:
    ctx, plan = plan_for(cfg, PASSWORD, state_path_for(cfg.name))
    plans[key] = plan
    if apply:
        apply_setup(ctx, plan, state_path_for(cfg.name), sleep=lambda seconds: None)
    return plan


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[dict[str, Plan], ProcedureCalls]:
    """The plans by scenario, and what each procedure called while they ran."""
    from moto import mock_aws

    from xacct_dataapi.sandbox import limits

    made: dict[str, Plan] = {}
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("plan-is-data"))
        limits.install()
        called = ProcedureCalls().install(mp)
        # xacct as least-privilege operators (world_of_operators); world.consumer / .provider the administrators
        with mock_aws(config={"core": {"mock_credentials": False}}), \
                least_privilege(seed(*open_sessions())) as world:  # the Data API is off: the first setup turns it on
            orders = config(world, "orders", enable_data_api=True)
            with pytest.MonkeyPatch.context() as legacy:  # an xacct older than the role path made the role at `/`
                legacy.setattr(Names, "access_role_path", staticmethod(lambda cluster_id, region: "/"))
                setup(orders, made, "first setup")
            setup(orders, made, "access role replaced")
            ec2 = world.consumer.client("ec2")
            group = json.loads(state_path_for("orders").read_text())["values"]["security_group_id"]
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": world.vpc_cidr}]}])
            setup(orders, made, "re-run with drift")
            setup(config(world, "billing"), made, "second deployment joins the endpoint")
            world.consumer.client("iam").create_role(RoleName="orders-app", AssumeRolePolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                         "Action": "sts:AssumeRole"}]}))
            grant(world, consumer_role="orders-app")  # the administrator's `xacct permissions --consumer-role`
            setup(config(world, "orders", enable_data_api=True, consumer_role="orders-app"), made,
                  "consumer user replaced by an adopted role", apply=False)
            for name, key in (("billing", "teardown leaves the shared endpoint"), ("orders", "teardown deletes it")):
                made[key] = apply_teardown(state_path_for(name), sleep=lambda seconds: None)[0]
        made["teardown of every kind of row"] = plan_teardown(every_kind_of_row())
    return made, called


@pytest.fixture(scope="module")
def plans(runs) -> dict[str, Plan]:
    return runs[0]


def every_kind_of_row() -> State:
    """A recorded deployment with a row of each kind a teardown deletes (the database user's too: its step needs a
    real database to set up, its teardown plan does not)."""
    cluster = "arn:aws:rds:us-west-2:222222222222:cluster:orders-aurora"
    where = json.dumps({"admin_secret": "arn:aws:secretsmanager:us-west-2:222222222222:secret:rds!cluster-1-AbCdEf",
                        "database": "orders"})
    rows = [("kms_key", "k-1", "provider", "arn:aws:kms:us-west-2:222222222222:key/k-1", None),
            ("kms_alias", "alias/xacct-orders", "provider", None, None),
            ("kms_key_policy", "k-1", "provider", None, None),
            ("secret", "xacct-orders/db-credentials", "provider", None, None),
            ("secret_policy", "xacct-orders/db-credentials", "provider", None, None),
            ("iam_role", "xacct-orders-data-api-access", "provider", None, None),
            ("iam_role_policy", "xacct-orders-data-api-access/xacct-orders-data-api", "provider", None, None),
            ("iam_user", "xacct-orders-consumer", "consumer", None, None),
            ("consumer_user_policy", "xacct-orders-consumer/xacct-orders-assume", "consumer", None, None),
            ("security_group", "sg-0123456789abcdef0", "consumer", None, "xacct-orders-rds-data-endpoint"),
            ("vpc_endpoint", "vpce-0123456789abcdef0", "consumer", None, None),
            ("db_user", "orders_app", "provider", cluster, where),
            ("data_api", "orders-aurora", "provider", cluster, None)]
    return State(name="orders", config={"key_deletion_days": 7}, resources=[
        ResourceRow(1, kind, id_, account, arn=arn, name=name) for kind, id_, account, arn, name in rows])


KINDS = ["first setup", "access role replaced", "re-run with drift", "second deployment joins the endpoint",
         "consumer user replaced by an adopted role", "teardown leaves the shared endpoint", "teardown deletes it",
         "teardown of every kind of row"]


@pytest.mark.parametrize("kind", KINDS)
def test_no_plan_item_holds_a_callable(plans, kind):
    plan = plans[kind]
    assert plan.calls, f"{kind}: the plan makes no call, so it shows nothing"
    assert callables_in(plan) == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_operation_names_a_registered_procedure(plans, kind):
    for item in plans[kind].calls:
        if isinstance(item, Operation):
            assert callable(procedures.lookup(item.name)), item.name


@pytest.mark.parametrize("kind", KINDS)
def test_the_dry_run_json_round_trips_and_shows_no_secret(plans, kind):
    doc = plan_json(plans[kind], {"name": "orders"})
    text = json.dumps(doc)  # no default=: every value is JSON already
    assert json.loads(text) == doc
    assert PASSWORD not in text
    for item, shown in zip(plans[kind].calls, [c for s in doc["steps"] for c in s["calls"]] if kind.startswith(
            "teardown") else _in_plan_order(plans[kind], doc)):
        assert shown["call"] == item.label
        if isinstance(item, Operation):
            assert shown["procedure"]["name"] == item.name
            assert shown["procedure"]["function"] == procedures.function_of(item.name)
            assert shown["iam_actions"] == list(procedures.actions_of(item.name)) and shown["iam_actions"]
        elif item.changes_aws:  # a Call: its one action, as IAM spells it (DescribeDBClusters, not DescribeDbClusters)
            (action,) = shown["iam_actions"]
            prefix, operation = action.split(":")
            assert (prefix, xform_name(operation)) == (item.service, item.method) and is_real_operation(action), shown
        if item.wait is not None:
            assert shown["wait"]["state"] == item.wait.state
            assert {a["state"] for a in shown["wait"]["acceptors"]} <= {"success", "retry"}
        if item.guard is not None:
            assert shown["guard"]["kind"] == item.guard["kind"] and shown["guard"]["deployment"]


def _in_plan_order(plan: Plan, doc: dict) -> list[dict]:
    """A setup's JSON lists its steps by number; its items, in the plan's execution order."""
    by_key = {s["key"]: s["calls"] for s in doc["steps"]}
    return [c for s in plan.steps for c in by_key[s.key]]


def test_the_plans_are_the_kinds_they_claim(plans):
    """Each scenario reached what it is named for, so the checks above cover those items."""
    def labels(kind: str) -> set[str]:
        return {c.label for c in plans[kind].calls}

    def actions(kind: str) -> set[Action]:
        return {s.action for s in plans[kind].steps}

    (secret,) = [c.params["SecretString"] for c in plans["first setup"].calls if "SecretString" in c.params]
    assert isinstance(secret, Sensitive) and secret.doc["password"] == SecretInput("db_password")  # data, not a getter
    waits = [c.wait for c in plans["first setup"].calls if c.wait is not None]
    assert {w.method for w in waits} == {"describe_db_clusters", "describe_vpc_endpoints"}
    assert {"ec2:create_vpc_endpoint", "ec2:confirm_endpoint_membership"} <= labels("first setup")
    assert Action.REPLACE in actions("access role replaced")
    assert "iam:delete_role_with_policies" in labels("access role replaced")
    assert Action.REPAIR in actions("re-run with drift")
    assert "ec2:authorize_security_group_ingress" in labels("re-run with drift")
    joined = plans["second deployment joins the endpoint"]
    assert "ec2:join_shared_endpoint" in labels("second deployment joins the endpoint")
    assert any(c.wait is not None and c.wait.pending == ("being decided",) for c in joined.calls)  # confirm_wait
    replaced = [c for c in plans["consumer user replaced by an adopted role"].calls
                if c.label == "iam:delete_user_with_dependents"]
    assert replaced and replaced[0].guard["kind"] == "iam_user"
    leaving = [c for c in plans["teardown leaves the shared endpoint"].calls if c.label == "ec2:delete_vpc_endpoint_and_wait"]
    assert leaving and leaving[0].params["Member"] == "billing" and leaving[0].guard["deployment"] == "billing"
    every = labels("teardown of every kind of row")
    assert {"kms:schedule_key_deletion", "secretsmanager:delete_secret_unless_gone", "rds-data:drop_user_unless_owner",
            "rds:disable_data_api_unless_shared", "ec2:delete_security_group_when_released"} <= every


# Their plans and runs need a real database (tests/e2e/test_db_user.py): setup --create-db-user plans the user's
# convergence, a teardown of its row (planned here from the state alone) its drop.
NEEDS_A_DATABASE = {"db:converge_user": ("setup", "provider"), "rds-data:drop_user_unless_owner": ("teardown", "provider")}
# Every optional grant too (an adopted principal, --create-db-user): whatever a procedure may need, in some deployment.
EVERY_GRANT = dataclasses.replace(FULL, create_db_user=True)


def test_xacct_permissions_grants_every_action_a_planned_procedure_declares(plans):
    """The plan and the permissions cannot drift: each procedure a setup (or teardown) plan names may call only what
    `xacct permissions --for setup` (or `--for teardown`) grants the side it runs on."""
    planned: dict[str, set[tuple[str, str]]] = {}
    for plan in plans.values():
        for item in plan.calls:
            if isinstance(item, Operation):
                planned.setdefault(item.name, set()).add((plan.kind, item.account.value))
    assert set(procedures.PROCEDURES) - set(planned) <= set(NEEDS_A_DATABASE), "a procedure no scenario plans"
    for name, where in NEEDS_A_DATABASE.items():
        planned.setdefault(name, set()).add(where)
    for name, where in sorted(planned.items()):
        for command, side in sorted(where):
            missing = set(procedures.actions_of(name)) - permissions.allowed_actions(side, command, EVERY_GRANT)
            assert not missing, (f"{command} plans {name}, which calls {sorted(missing)}, but `xacct permissions "
                                 f"--side {side} --for {command}` does not grant it")


def test_each_procedure_calls_only_the_actions_it_declares(runs):
    """Every procedure the scenarios ran (all but the database user's, which tests/e2e/test_db_user.py holds to the
    same in the sandbox's PostgreSQL) called, through botocore, nothing it does not declare; and the composite ones
    were seen making their several calls, so the check is not vacuous."""
    _, called = runs
    assert set(called.seen) == set(procedures.PROCEDURES) - set(NEEDS_A_DATABASE)
    for name, actions in sorted(called.seen.items()):
        undeclared = actions - set(procedures.actions_of(name))
        assert not undeclared, f"procedure {name} called {sorted(undeclared)}, which it does not declare"
    seen = called.seen
    assert {"iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:DeleteRole"} <= seen["iam:delete_role_with_policies"]
    assert {"iam:ListAccessKeys", "iam:ListUserPolicies", "iam:DeleteUser"} <= seen["iam:delete_user_with_dependents"]
    assert {"kms:DescribeKey", "kms:ScheduleKeyDeletion"} <= seen["kms:schedule_key_deletion"]
    assert {"secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret"} <= seen[
        "secretsmanager:delete_secret_unless_gone"]
    assert {"rds:DescribeDBClusters", "iam:ListRoles"} <= seen["rds:disable_data_api_unless_shared"]
    assert {"ec2:DescribeVpcEndpoints", "ec2:CreateTags", "ec2:DeleteVpcEndpoints"} <= seen[
        "ec2:delete_vpc_endpoint_and_wait"]
    assert {"ec2:DescribeNetworkInterfaces", "ec2:DeleteSecurityGroup"} <= seen["ec2:delete_security_group_when_released"]
    assert {"ec2:DescribeSecurityGroups", "ec2:CreateTags"} <= seen["ec2:join_shared_endpoint"]


def test_the_walk_finds_a_callable_wherever_it_hides():
    from xacct_dataapi.models import Account, Call, Record, StepPlan, WaitFor

    def state(response: dict) -> str:  # what a Wait held before it was data
        return "on"

    hidden = [Call(Account.PROVIDER, "kms", "create_key", {"Tags": [{"Key": "k", "Value": len}]}),
              WaitFor(Account.PROVIDER, guard={"kind": "kms_key", "check": state}),
              Call(Account.PROVIDER, "kms", "create_alias", record=Record("kms_alias", state))]
    found = callables_in(Plan("setup", [StepPlan(1, "kms_key", "Key", Action.CREATE, "new", hidden)]))
    assert [f.split(":")[0] for f in found] == [
        "plan.steps[0].calls[0].params['Tags'][0]['Value']", "plan.steps[0].calls[1].guard['check']",
        "plan.steps[0].calls[2].record.id"]


def test_every_operation_the_package_constructs_names_a_registered_procedure():
    """Statically too: each `Operation(..., name="...")` written in the package (a step that no scenario above
    reaches still names a function that exists), once every step and resource type is imported, as any plan has."""
    import xacct_dataapi.resource_types  # noqa: F401
    import xacct_dataapi.steps  # noqa: F401

    names = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)) if "Operation(" in text else ():
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Operation":
                names |= {k.value.value for k in node.keywords
                          if k.arg == "name" and isinstance(k.value, ast.Constant)}
    assert len(names) >= 9, names
    for name in sorted(names):
        procedures.lookup(name)
    assert {"iam:delete_role_with_policies", "iam:delete_user_with_dependents"} <= set(procedures.PROCEDURES)


def test_an_unregistered_procedure_is_an_internal_error_and_a_name_is_never_taken_twice():
    with pytest.raises(AssertionError, match="no-such:procedure"):
        procedures.lookup("no-such:procedure")

    def impostor(ops, **params) -> dict:
        return {}

    with pytest.raises(ValueError, match="kms:schedule_key_deletion"):
        procedures.procedure("kms:schedule_key_deletion", actions=("kms:DeleteAlias",))(impostor)
    assert procedures.function_of("kms:schedule_key_deletion") == (
        "xacct_dataapi.resource_types.kms.schedule_key_deletion")
    assert procedures.actions_of("kms:schedule_key_deletion") == ("kms:DescribeKey", "kms:ScheduleKeyDeletion")


# ------------------------------------------------------------------ the waits decide exactly as before (issue 26)

def _endpoints(*states) -> dict:
    return {"VpcEndpoints": [{"VpcEndpointId": f"vpce-{n}", **({} if s is None else {"State": s})}
                             for n, s in enumerate(states)]}


@pytest.mark.parametrize("response, expected", [
    ({"VpcEndpoints": []}, "deleted"),  # none listed: gone (fails the wait at once)
    ({}, "deleted"),
    (_endpoints("Available"), "available"),  # AWS's documented case, or the wire's
    (_endpoints("pendingAcceptance", "failed"), "pendingacceptance"),  # the first listed
    (_endpoints("failed"), "failed"),
    (_endpoints(None), ""),  # no State: neither pending nor available, so the wait stops at once
])
def test_the_endpoint_wait_reads_the_state_as_before(response, expected):
    from xacct_dataapi.steps.endpoint_joined import available

    wait: Wait = available("vpce-0")
    assert state_of(wait.state, response) == expected


@pytest.mark.parametrize("cluster, switch, stays", [
    ({"HttpEndpointEnabled": True}, "on", "on"),
    ({"HttpEndpointEnabled": False}, "off", "off"),
    ({}, "off", "off"),  # modifying: the flag not yet there
    ({"HttpEndpointEnabled": True, "TagList": [{"Key": "xacct:data-api-closing:billing", "Value": "1"}]},
     "on", "being decided"),
    ({"HttpEndpointEnabled": False, "TagList": [{"Key": "xacct:data-api-enabled-by", "Value": "orders"}]}, "off", "off"),
])
def test_the_data_api_waits_read_the_switch_as_before(cluster, switch, stays):
    from xacct_dataapi.steps import data_api

    response = {"DBClusters": [{"DBClusterIdentifier": "orders-aurora", **cluster}]}
    assert state_of(data_api.SWITCH_STATE, response) == switch
    state = state_of(data_api.STAYS_ON_STATE, response)
    assert state == stays if stays != "off" else state.startswith(
        "off: another xacct deployment's teardown turned it off while this setup ran")
