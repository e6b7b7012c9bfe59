"""The critical path (issue 12): all reads in one concurrent wave, the provider's and the consumer's write chains at
once, values the state proves not asked for again. Each test fails if the run were one call at a time: a barrier
between the two chains' calls only opens when both are in flight together."""
from __future__ import annotations

import io
import threading
from collections import Counter
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from rich.console import Console

from tests.helpers.counting import RequestCounter
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from tests.helpers.pipeline import apply_setup, plan_for, setup_context
from xacct_dataapi import app
from xacct_dataapi import state as state_mod
from xacct_dataapi.config import Config, state_path_for
from xacct_dataapi.errors import StepFailed
from xacct_dataapi.models import Account, Action, Inspection, Step, StepPlan
from xacct_dataapi.plan_order import step_dependencies
from xacct_dataapi.planner import inspect_all, plan_setup
from xacct_dataapi.terminal import Terminal

pytestmark = pytest.mark.usefixtures("fast_aws")

NAME = "orders"


def config(world, **extra) -> Config:
    return Config(name=NAME, consumer_profile="consumer", provider_profile="provider", cluster=world.cluster_id,
                  vpc_id=world.vpc_id, subnet_ids=world.subnet_ids, enable_data_api=True, **extra).validate()


def on_call(ctx, account: Account, service: str, operation: str, handler) -> None:
    """Run handler() just before the runner's client sends `operation` (before-call: moto answers at before-send)."""
    def hook(**kwargs) -> None:  # returns None: a value here would stand in for AWS's response
        handler()

    ctx.aws.client(account, service).meta.events.register(f"before-call.{service}.{operation}", hook)


def test_the_provider_and_consumer_chains_write_at_the_same_time(world, password):
    cfg = config(world)
    path = state_path_for(NAME)
    ctx, plan = plan_for(cfg, password, path)
    both_in_flight = threading.Barrier(2, timeout=10)  # broken (and the call fails) if the chains ran one by one
    on_call(ctx, Account.CONSUMER, "ec2", "CreateSecurityGroup", both_in_flight.wait)
    on_call(ctx, Account.PROVIDER, "rds", "AddTagsToResource", both_in_flight.wait)

    runner = apply_setup(ctx, plan, path, sleep=lambda s: None)

    assert not both_in_flight.broken
    state = state_mod.load(path)
    kinds = {r.kind for r in state.resources}
    assert {"security_group", "vpc_endpoint", "kms_key", "secret", "iam_role", "iam_user", "data_api"} <= kinds
    # Every changing item made one call (the membership check: its facts on its own group, CreateTags).
    changing = [c for c in plan.calls if c.changes_aws]
    assert state.last_error is None and len(runner.calls_made) == len(changing)


def test_a_failing_chain_stops_the_other_between_calls_and_everything_made_stays_recorded(world, password):
    cfg = config(world)
    path = state_path_for(NAME)
    ctx, plan = plan_for(cfg, password, path)
    provider_failed, endpoint_in_flight, key_reached = threading.Event(), threading.Event(), threading.Event()

    def deny_create_key():
        # Fails only once the endpoint call is in flight: which chain gets there first is up to the threads (a CI run
        # once had the provider fail before the consumer's first call ended, and the endpoint was never asked for).
        # The consumer's first call waits for the provider to be here, so that order is the one tested every time.
        key_reached.set()
        endpoint_in_flight.wait(10)
        provider_failed.set()
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed to kms:CreateKey"}},
                          "CreateKey")

    def endpoint_call():
        endpoint_in_flight.set()
        provider_failed.wait(10)

    on_call(ctx, Account.PROVIDER, "kms", "CreateKey", deny_create_key)
    on_call(ctx, Account.CONSUMER, "ec2", "CreateSecurityGroup", lambda: key_reached.wait(10))
    # The consumer's endpoint call is in flight when the provider fails: it finishes and is recorded; nothing after.
    on_call(ctx, Account.CONSUMER, "ec2", "CreateVpcEndpoint", endpoint_call)

    with pytest.raises(StepFailed) as info:
        apply_setup(ctx, plan, path, sleep=lambda s: None)

    assert info.value.step_number == 1 and "AccessDenied" in info.value.message
    state = state_mod.load(path)
    endpoint = state.find("vpc_endpoint")
    assert endpoint is not None and state.find("security_group") is not None
    assert state.find("iam_user") is None and state.find("kms_key") is None
    assert state.last_error["step"] == 1
    ec2 = world.consumer.client("ec2")
    assert [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]] == [endpoint.id]
    # The stopped chain did not go on to the group's rules: the re-run repairs them, and converges.
    group = ec2.describe_security_groups(GroupIds=[state.find("security_group").id])["SecurityGroups"][0]
    assert group["IpPermissions"] == []
    ctx, plan = plan_for(cfg, password, path)
    apply_setup(ctx, plan, path, sleep=lambda s: None)
    ctx, plan = plan_for(cfg, password, path)
    assert not plan.changes
    assert [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]] == [endpoint.id]


def test_only_a_value_one_chain_names_from_the_other_orders_them(world, password):
    def dependencies(**extra) -> dict[str, set[str]]:
        _, plan = plan_for(config(world, **extra), password, state_path_for(NAME))
        steps = [s for s in plan.steps if s.calls]
        return {s.key: {steps[e].key for e in deps} for s, deps in zip(steps, step_dependencies(steps))}

    plain = dependencies()
    consumer = {"endpoint", "consumer_principal"}
    assert plain["endpoint"] == set() and plain["consumer_principal"] == {"endpoint"}
    assert not any(deps & consumer for key, deps in plain.items() if key not in consumer)
    assert plain["access_role"] >= {"kms_key", "secret"}
    # --require-private-path: the access role's policy names the endpoint's id, which the consumer's chain makes.
    assert "endpoint" in dependencies(require_private_path=True)["access_role"]


def operations(counter: RequestCounter) -> Counter:
    """The requests sent since the last call, by operation name alone ("consumer:ec2.DescribeSubnets" counts as
    "DescribeSubnets")."""
    found: Counter = Counter()
    for key, n in counter.take().items():
        found[key.rsplit(".", 1)[1]] += n
    return found


PROVEN_BY_AN_ENDPOINT = ("DescribeVpcEndpointServices", "ListHostedZonesByVPC")


def test_a_rerun_and_status_do_not_ask_again_what_the_recorded_endpoint_proves(world, password, monkeypatch):
    counter = RequestCounter().install(monkeypatch)
    cfg, path = config(world), state_path_for(NAME)
    quiet = Console(file=io.StringIO())
    ui = Terminal(out=quiet, err=quiet, yes=True)
    app.setup(cfg, path, ui, dry_run=False, password_from_stdin=False)
    sent = operations(counter)
    assert all(sent[op] == 1 for op in PROVEN_BY_AN_ENDPOINT), sent  # a new deployment checks them
    # one read for the network and the endpoint-service checks, one of the VPC's subnets for the NACL check (step 8)
    assert sent["DescribeSubnets"] == 2, sent

    app.setup(cfg, path, ui, dry_run=False, password_from_stdin=False)
    report = app.status(path)
    assert report["all_done"]
    sent = operations(counter)
    assert not any(sent[op] for op in PROVEN_BY_AN_ENDPOINT), sent
    assert sent["GetCallerIdentity"] == 4  # the accounts are still checked against the state, every time

    # Other subnets: the endpoint no longer proves them, so they are checked again.
    other = Config(**{**cfg.__dict__, "subnet_ids": world.subnet_ids[:1]}).validate()
    ctx, _ = plan_for(other, password, path)
    sent = operations(counter)
    assert all(sent[op] == 1 for op in PROVEN_BY_AN_ENDPOINT), sent


def _fake_step(key: str, seen: list, *, needs=(), provides: dict | None = None) -> Step:
    def inspect(ctx, known):
        seen.append((key, {v: known.get(v) for v in needs}))
        return Inspection({}, dict(provides or {}))

    def plan(ctx, facts, desired):
        return StepPlan(0, key, key, None, "")

    return Step(0, key, key, (key,), inspect=inspect, desired=lambda ctx: [], plan=plan, teardown=lambda r, s: [],
                needs=tuple(needs), provides=tuple(provides or ()))


def test_a_value_the_state_holds_lets_its_reader_go_in_the_first_wave_and_a_changed_one_reinspects_it():
    seen: list = []
    settled = []
    ctx = SimpleNamespace(values={"key_id": "key-recorded"}, settle=lambda: settled.append(True))
    same = [_fake_step("kms_key", seen, provides={"key_id": "key-recorded"}),
            _fake_step("key_policy", seen, needs=("key_id",))]
    inspect_all(ctx, same)
    assert sorted(k for k, _ in seen) == ["key_policy", "kms_key"]  # one wave, inspected once each
    assert settled

    seen.clear()
    ctx = SimpleNamespace(values={"key_id": "key-recorded"}, settle=lambda: None)
    replaced = [_fake_step("kms_key", seen, provides={"key_id": "key-new"}),
                _fake_step("key_policy", seen, needs=("key_id",))]
    inspect_all(ctx, replaced)
    # The guess from the state was wrong: key_policy is read again, now with the key the inspection found.
    assert [v for k, v in seen if k == "key_policy"] == [{"key_id": "key-recorded"}, {"key_id": "key-new"}]
    assert ctx.values["key_id"] == "key-new"


def test_a_fresh_setup_searches_the_key_tags_while_it_reads_the_alias(world, password):
    # With no key in the state, the tag search (GetResources) is needed unless the alias exists; it goes out with
    # the alias's DescribeKey, not after it: on a fresh setup it was the last read before the first write.
    cfg, path = config(world), state_path_for(NAME)
    ctx = setup_context(cfg, password, path)
    together = threading.Barrier(2, timeout=5)  # broken if the search waited for the alias's answer
    first_describe = []

    def at_describe_key():
        if not first_describe:
            first_describe.append(True)
            together.wait()

    on_call(ctx, Account.PROVIDER, "kms", "DescribeKey", at_describe_key)
    on_call(ctx, Account.PROVIDER, "resourcegroupstaggingapi", "GetResources", together.wait)
    plan = plan_setup(ctx)
    assert not together.broken
    assert next(s for s in plan.steps if s.key == "kms_key").action is Action.CREATE
