"""The shared rds-data endpoint under concurrent setups and teardowns of different deployments in one VPC (issue 22;
docs/reliability.md, "The shared endpoint"). Each interleaving is forced: one run is paused just before a chosen AWS
call (a botocore before-call hook on that run's own clients) while the other runs, then released. Every assertion is
on what AWS holds afterwards: the endpoint's members (their groups' facts) and policy, which endpoints and groups exist; and the same
for the cluster's Data API switch, which the deployments on one cluster share."""
from __future__ import annotations

import json
import threading
import traceback

import pytest
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import grant, least_privilege, world_of_operators  # noqa: F401 (the `world` fixture)
from tests.helpers.inventory import live_endpoints, xacct_security_groups
from tests.helpers.pipeline import apply_setup, plan_for
from tests.helpers.world import seed
from xacct_dataapi import policies
from xacct_dataapi import state as state_mod
from xacct_dataapi.aws import Sessions
from xacct_dataapi.cli import cli
from xacct_dataapi.config import Config, Names, state_path_for
from xacct_dataapi.context import build_context
from xacct_dataapi.errors import XacctError
from xacct_dataapi.models import Account
from xacct_dataapi.planner import plan_setup, plan_teardown
from xacct_dataapi.runner import Runner
from xacct_dataapi.steps.endpoint_members import access_roles_on, read

pytestmark = pytest.mark.usefixtures("fast_aws")
PASSWORD = "s3cret-Passw0rd-never-logged"
SLOW = 20.0  # how long a gate waits for the other side before the test fails (never reached when it passes)


@pytest.fixture
def world(sessions):
    return seed(*sessions, data_api_on=True)  # the Data API stays as it is: the endpoint alone is under test


def config(world, name: str, **extra) -> Config:
    return Config(name=name, consumer_profile="consumer", provider_profile="provider",
                  cluster=extra.pop("cluster", world.cluster_id), vpc_id=world.vpc_id, subnet_ids=world.subnet_ids,
                  **extra).validate()


def another_cluster(world, cluster_id: str) -> str:
    """A second Aurora cluster in the provider account, Data API on: its ARN."""
    return world.provider.client("rds").create_db_cluster(
        DBClusterIdentifier=cluster_id, Engine="aurora-postgresql", EngineVersion="11.13", EngineMode="serverless",
        MasterUsername="postgres", MasterUserPassword="seed-password-3", EnableHttpEndpoint=True,
    )["DBCluster"]["DBClusterArn"]


class Gate:
    """Pauses one run just before its `nth` call of `operation` (on the consumer's EC2 client) until released."""

    def __init__(self, sessions: Sessions, operation: str, nth: int = 1, account: Account = Account.CONSUMER,
                 service: str = "ec2"):
        self.arrived, self.released, self.seen = threading.Event(), threading.Event(), 0
        self.nth = nth

        def hook(**_) -> None:
            self.seen += 1
            if self.seen == self.nth:
                self.arrived.set()
                assert self.released.wait(SLOW), f"gate before {operation} was never released"

        sessions.client(account, service).meta.events.register(f"before-call.{service}.{operation}", hook)

    def wait(self) -> None:
        assert self.arrived.wait(SLOW), "the paused run never reached its gate"


class Run(threading.Thread):
    """One xacct setup or teardown in its own thread; `error` is what it raised (None: it would have exited 0)."""

    def __init__(self, work):
        super().__init__(daemon=True)
        self.work, self.error = work, None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def finish(self) -> BaseException | None:
        self.join(SLOW * 3)
        assert not self.is_alive(), "the run did not finish"
        return self.error


def setup(world, name: str, **extra):
    """Plan now (as `xacct setup` does before it asks), apply later: (sessions to hook, apply)."""
    path = state_path_for(name)
    ctx, plan = plan_for(config(world, name, **extra), PASSWORD, path)
    return ctx.aws, lambda: apply_setup(ctx, plan, path)


def teardown(name: str):
    path = state_path_for(name)
    state = state_mod.load(path)
    aws = Sessions.from_profiles(state.profiles["consumer"], state.profiles["provider"], state.region)
    plan = plan_teardown(state)
    return aws, lambda: Runner(aws, state, path).execute(plan)


def status_ok(world, name: str, **extra) -> bool:
    """`xacct status` would exit 0: planning this deployment's setup again finds nothing to do."""
    path = state_path_for(name)
    ctx = build_context(config(world, name, **extra), Sessions.from_profiles("consumer", "provider", None),
                        state_mod.load(path), lambda: PASSWORD)
    return not plan_setup(ctx).changes


def endpoint_of(world) -> dict | None:
    found = live_endpoints(world.consumer, world.vpc_id)
    assert len(found) <= 1, f"more than one endpoint: {[e['VpcEndpointId'] for e in found]}"
    return found[0] if found else None


def members_of(world, ep: dict) -> dict:
    """The endpoint's members as AWS shows them (their own groups' facts, one paged listing)."""
    return read(world.consumer.client("ec2"), ep["VpcEndpointId"])[1]


def admitted(ep: dict) -> set[tuple[str, str]]:
    """(role pattern, cluster) pairs the endpoint policy admits."""
    return {(s["Condition"]["ArnLike"]["aws:PrincipalArn"], s["Resource"])
            for s in json.loads(ep["PolicyDocument"])["Statement"]}


def assert_exactly(world, names: set[str], clusters: list[str] | None = None) -> None:
    """The endpoint exists iff a member is left, its members are exactly `names`, its policy admits exactly the
    access roles on their cluster, and no xacct security group is left but the endpoint's and the members' own."""
    ep = endpoint_of(world)
    groups = {g["GroupId"] for g in xacct_security_groups(world.consumer, world.vpc_id)}
    if not names:
        assert ep is None and groups == set()
        return
    members = members_of(world, ep)
    assert ep is not None and set(members) == names
    want = {(access_roles_on(c), c) for c in clusters or [world.cluster_arn]}
    role_path = Names.access_role_path(world.cluster_id, "us-west-2")
    assert access_roles_on(world.cluster_arn) == policies.role_arn("222222222222", "xacct-*-data-api-access", "aws",
                                                                   role_path)
    assert admitted(ep) == want
    assert groups == {g["GroupId"] for g in ep["Groups"]} | {m.group_id for m in members.values()}


def paused(aws_work, operation: str, nth: int = 1, **where) -> tuple[Run, Gate]:
    """Start a run that pauses before its nth `operation`; returns once it is there."""
    aws, work = aws_work
    gate = Gate(aws, operation, nth, **where)
    run = Run(work)
    run.start()
    gate.wait()
    return run, gate


def reached(aws_work, operation: str, nth: int = 1, **where) -> Run:
    """Start a run that is let through; return once it has reached its nth `operation` (it keeps going)."""
    aws, work = aws_work
    gate = Gate(aws, operation, nth, **where)
    gate.released.set()
    run = Run(work)
    run.start()
    gate.wait()
    return run


def _run_now(work) -> BaseException | None:
    run = Run(work)
    run.start()
    return run.finish()


def test_two_joins_at_once_lose_no_update(world):
    """B (on a second cluster) reads the members, then pauses before writing the policy they derive; C (on a third)
    joins meanwhile. B's write is stale (no third cluster); its read-back sees C's facts and rewrites. Before: C's
    statement was lost, both setups said done."""
    clusters = [world.cluster_arn, another_cluster(world, "orders-b"), another_cluster(world, "orders-c")]
    grant(world, clusters=(world.cluster_id, "orders-b", "orders-c"))  # as an administrator would, for three clusters
    assert _run_now(setup(world, "alpha")[1]) is None
    run_b, gate = paused(setup(world, "bravo", cluster="orders-b"), "ModifyVpcEndpoint")
    assert _run_now(setup(world, "charlie", cluster="orders-c")[1]) is None
    assert members_of(world, endpoint_of(world)).keys() == {"alpha", "bravo", "charlie"}
    gate.released.set()
    assert run_b.finish() is None
    assert_exactly(world, {"alpha", "bravo", "charlie"}, clusters)
    assert status_ok(world, "alpha") and status_ok(world, "bravo", cluster="orders-b")
    assert status_ok(world, "charlie", cluster="orders-c")
    for name in ("charlie", "alpha"):  # the third cluster's statement goes with its last member; the endpoint stays
        assert _run_now(teardown(name)[1]) is None
    assert_exactly(world, {"bravo"}, clusters[1:2])


def test_a_join_before_the_last_members_decision_keeps_the_endpoint(world):
    """A (the only member) has removed its tag and pauses before marking the endpoint closing; B joins and finishes;
    A's decision read then sees B and keeps the endpoint."""
    assert _run_now(setup(world, "alpha")[1]) is None
    run_a, gate = paused(teardown("alpha"), "CreateTags")
    assert _run_now(setup(world, "bravo")[1]) is None
    gate.released.set()
    assert run_a.finish() is None
    assert_exactly(world, {"bravo"})
    assert status_ok(world, "bravo")


def test_a_join_after_the_last_members_decision_fails_and_a_rerun_makes_a_new_endpoint(world):
    """A has decided to delete (no member left when it read) and pauses before DeleteVpcEndpoints; B tags the endpoint
    meanwhile, sees A's closing mark and waits; A deletes. B must not end well (before: B's setup exited 0 and its
    endpoint was gone). Its re-run makes a new endpoint."""
    assert _run_now(setup(world, "alpha")[1]) is None
    run_a, gate = paused(teardown("alpha"), "DeleteVpcEndpoints")
    # B is let through at once; the gate only says when it is in its wait (join's read, converge's two, the wait's).
    run_b = reached(setup(world, "bravo"), "DescribeVpcEndpoints", nth=4)
    assert "bravo" in members_of(world, endpoint_of(world))
    gate.released.set()
    assert run_a.finish() is None
    error = run_b.finish()
    assert isinstance(error, XacctError) and "was deleted by its last member" in str(getattr(error, "message", error))
    assert endpoint_of(world) is None
    assert _run_now(setup(world, "bravo")[1]) is None
    assert_exactly(world, {"bravo"})
    assert status_ok(world, "bravo")


def test_the_last_two_members_leaving_together_delete_the_endpoint_and_its_group(world):
    """A pauses after reading the endpoint, before removing its tag; B leaves completely (it sees A: kept); A then
    removes its tag, reads, sees nobody and deletes. Before: both saw the other and the endpoint and group leaked."""
    for name in ("alpha", "bravo"):
        assert _run_now(setup(world, name)[1]) is None
    run_a, gate = paused(teardown("alpha"), "DeleteTags")
    assert _run_now(teardown("bravo")[1]) is None
    assert set(members_of(world, endpoint_of(world))) == {"alpha"}
    gate.released.set()
    assert run_a.finish() is None
    assert_exactly(world, set())


def test_three_first_setups_at_once_end_with_one_endpoint(world):
    """All three planned "create" (no endpoint yet) and send CreateVpcEndpoint together: AWS gives one of them the
    VPC's private DNS name and refuses the others, which join that endpoint and keep their groups as member groups."""
    names = ("alpha", "bravo", "charlie")
    together = threading.Barrier(len(names), timeout=SLOW)

    def meet(**_) -> None:
        together.wait()

    runs = []
    for name in names:
        aws, work = setup(world, name)
        aws.client(Account.CONSUMER, "ec2").meta.events.register("before-call.ec2.CreateVpcEndpoint", meet)
        runs.append(Run(work))
    for run in runs:
        run.start()
    assert [run.finish() for run in runs] == [None, None, None]
    assert_exactly(world, set(names))
    assert all(status_ok(world, n) for n in names)
    recorded = {n: {(r.kind, r.id) for r in state_mod.load(state_path_for(n)).resources if r.step == 7} for n in names}
    ep = endpoint_of(world)
    members = members_of(world, ep)
    assert all(rows == {("vpc_endpoint", ep["VpcEndpointId"]), ("security_group", ep["Groups"][0]["GroupId"]),
                        ("security_group", members[n].group_id)} for n, rows in recorded.items()), recorded
    for name in names:
        assert _run_now(teardown(name)[1]) is None
    assert_exactly(world, set())


def test_racing_soak_twenty_deployments_in_one_vpc(world):
    """20 deployments set up and torn down in four overlapping waves (up to 16 runs at once, in no order the test
    chooses). After each wave: the endpoint exists iff a member is left, its tags and policy admit exactly the live
    members, no security group is left but the endpoint's, and every live member's status is done. A run that failed
    (its membership not in effect: the endpoint it joined was deleted under it) is run again, as an operator would."""
    names = [f"s{i:02d}" for i in range(1, 21)]
    waves = [(names[0:8], []), (names[8:14], names[0:4]), (names[14:20], names[4:14]), ([], names[14:20])]
    live: set[str] = set()
    failed_first = 0
    for joining, leaving in waves:
        runs = {("setup", n): Run(setup(world, n)[1]) for n in joining}
        runs |= {("teardown", n): Run(teardown(n)[1]) for n in leaving}
        for run in runs.values():
            run.start()
        errors = {key: run.finish() for key, run in runs.items()}
        for (kind, name), error in errors.items():
            if error is not None:
                failed_first += 1
                assert isinstance(error, XacctError), "".join(traceback.format_exception(error))
                work = setup(world, name)[1] if kind == "setup" else teardown(name)[1]
                assert _run_now(work) is None
        live = (live | set(joining)) - set(leaving)
        assert_exactly(world, live)
        assert all(status_ok(world, n) for n in live)
    print(f"soak: {failed_first} of {sum(len(j) + len(l) for j, l in waves)} runs failed first and converged on a re-run")
    assert failed_first <= 6  # only setups joining in the third wave can lose their endpoint


# --- The cluster's Data API switch, shared the same way: the access roles under the cluster's path are the members,
# the cluster's xacct:data-api-enabled-by tag says xacct turned it on, a teardown marks the cluster while it decides.

@pytest.fixture
def world_off(sessions):
    """The cluster's Data API off; xacct as least-privilege operators, as in `world` (world_of_operators)."""
    with least_privilege(seed(*sessions, data_api_on=False)) as world:
        yield world


def data_api(world) -> tuple[bool, set[str]]:
    rds = world.provider.client("rds")
    cluster = rds.describe_db_clusters(DBClusterIdentifier=world.cluster_id)["DBClusters"][0]
    return cluster["HttpEndpointEnabled"], {t["Key"] for t in rds.list_tags_for_resource(
        ResourceName=world.cluster_arn)["TagList"] if t["Key"].startswith("xacct:data-api")}


def test_the_data_api_stays_on_while_any_member_remains_and_the_last_one_out_turns_it_off(world_off):
    """Was: A turned it on; after A and B were both torn down it stayed on, tagged enabled-by A."""
    world = world_off
    assert _run_now(setup(world, "alpha", enable_data_api=True)[1]) is None
    assert _run_now(setup(world, "bravo")[1]) is None  # found it on (xacct's): records the shared switch
    assert state_mod.load(state_path_for("bravo")).find("data_api", world.cluster_id) is not None
    assert _run_now(teardown("alpha")[1]) is None
    assert data_api(world) == (True, {"xacct:data-api-enabled-by"})  # bravo still uses it
    assert status_ok(world, "bravo")
    assert _run_now(teardown("bravo")[1]) is None
    assert data_api(world) == (False, set())


def test_a_setup_whose_role_lands_while_the_last_member_decides_is_kept(world_off):
    """A marks the cluster, then pauses before reading who else is on it; B adds its role and waits for A's decision;
    A then sees B's role and leaves the Data API on."""
    world = world_off
    assert _run_now(setup(world, "alpha", enable_data_api=True)[1]) is None
    run_a, gate = paused(teardown("alpha"), "ListRoles", account=Account.PROVIDER, service="iam")
    run_b = reached(setup(world, "bravo"), "DescribeDBClusters", account=Account.PROVIDER, service="rds")  # B's role exists; it is waiting for A's mark to go
    assert "xacct:data-api-closing:alpha" in data_api(world)[1]
    gate.released.set()
    assert run_a.finish() is None and run_b.finish() is None
    assert data_api(world) == (True, {"xacct:data-api-enabled-by"})
    assert status_ok(world, "bravo")


def test_a_setup_whose_role_lands_after_the_last_members_decision_fails(world_off):
    """A saw no other role and pauses before switching off; B adds its role and waits on A's mark; A turns the
    Data API off. B must not end well (was: exit 0 and status "done" with the Data API off). Its re-run with
    --enable-data-api turns it on again."""
    world = world_off
    assert _run_now(setup(world, "alpha", enable_data_api=True)[1]) is None
    run_a, gate = paused(teardown("alpha"), "ModifyDBCluster", account=Account.PROVIDER, service="rds")
    run_b = reached(setup(world, "bravo"), "DescribeDBClusters", account=Account.PROVIDER, service="rds")
    gate.released.set()
    assert run_a.finish() is None
    error = run_b.finish()
    assert isinstance(error, XacctError) and "turned it off while this setup ran" in str(getattr(error, "message", error))
    assert data_api(world) == (False, set())
    status = CliRunner().invoke(cli, ["status", "--name", "bravo", "--output", "json"])
    assert status.exit_code == 1, status.output  # not done: the Data API is off
    assert _run_now(setup(world, "bravo", enable_data_api=True)[1]) is None
    assert data_api(world) == (True, {"xacct:data-api-enabled-by"})
    assert status_ok(world, "bravo")
