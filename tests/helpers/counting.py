"""Count the HTTP requests xacct sends, per account and operation, with a botocore `before-send` hook on every
client `xacct_dataapi.aws.Sessions.client` builds (one count per request: every page, poll and retry); and record
the IAM actions each registered procedure calls (`before-call`, once per call whatever its retries)."""
from __future__ import annotations

import threading
from collections import Counter, defaultdict

from xacct_dataapi import aws as aws_mod


def hook_every_client(monkeypatch, event: str, make_handler, unique_id: str) -> None:
    """Register `make_handler(account)` for botocore `event` on every client xacct's Sessions build, once per client.

    Under a lock: lookups ask for clients from several threads at once, and botocore's register(unique_id=) is a
    check-then-add without a lock (botocore/hooks.py, _register_section), so two threads could both add the handler
    and every request would count twice."""
    original = aws_mod.Sessions.client
    lock = threading.Lock()

    def client(sessions, account, service):
        c = original(sessions, account, service)
        hooked = getattr(c, "_xacct_hooked", set())
        if unique_id in hooked:
            return c
        with lock:
            if unique_id not in getattr(c, "_xacct_hooked", set()):
                c.meta.events.register(event, make_handler(account), unique_id=unique_id)
                c._xacct_hooked = getattr(c, "_xacct_hooked", set()) | {unique_id}
        return c

    monkeypatch.setattr(aws_mod.Sessions, "client", client)


class RequestCounter:
    def __init__(self) -> None:
        self.counts: Counter = Counter()

    def install(self, monkeypatch) -> "RequestCounter":
        def make_handler(account):
            def before_send(event_name: str, **_):
                _, service_id, operation = event_name.split(".", 2)  # before-send.<service>.<Operation>
                self.counts[f"{account.value}:{service_id}.{operation}"] += 1
            return before_send

        hook_every_client(monkeypatch, "before-send.*.*", make_handler, f"xacct-test-request-counter-{id(self)}")
        return self

    def take(self) -> Counter:
        """The counts so far, and start again from zero."""
        counts, self.counts = self.counts, Counter()
        return counts


class ProcedureCalls:
    """The IAM action of every call each registered procedure (procedures.py) makes while the executor runs it, per
    procedure name: OperationContext.run names what the thread is running (the two accounts' chains run at once, each
    in a thread of its own), a botocore `before-call` hook on every client records what it calls. The guard's read
    before a delete runs outside the procedure and is not counted against it."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = defaultdict(set)
        self._running = threading.local()

    def install(self, monkeypatch) -> "ProcedureCalls":
        from xacct_dataapi.hooks import OperationContext

        original_run = OperationContext.run

        def run(ops, procedure: str, **params) -> dict:
            outer, self._running.name = getattr(self._running, "name", None), procedure
            try:
                return original_run(ops, procedure, **params)
            finally:
                self._running.name = outer

        def make_handler(account):
            def before_call(model, **_):
                running = getattr(self._running, "name", None)
                if running is not None:
                    service = model.service_model.service_name
                    self.seen[running].add(f"{aws_mod.IAM_PREFIX.get(service, service)}:{model.name}")
            return before_call

        monkeypatch.setattr(OperationContext, "run", run)
        hook_every_client(monkeypatch, "before-call.*.*", make_handler, f"xacct-test-procedure-calls-{id(self)}")
        return self


def teardown_requests(directory, others: int, mp) -> tuple[Counter, bool]:
    """In a fresh moto world under `directory`: deployment `default` turns the cluster's Data API on, `others` more
    deployments use the same cluster (each from a VPC of its own, so the consumer side of the teardown is the same
    whatever their number), then `default` is torn down. Returns the teardown's requests and whether the cluster's
    Data API is still on afterwards (what AWS says). xacct runs as least-privilege operators, granted `xacct
    permissions` for every VPC (tests/helpers/operators.py)."""
    from moto import mock_aws

    from tests.helpers.operators import grant, least_privilege
    from tests.helpers.pipeline import apply_setup, apply_teardown, plan_for
    from tests.helpers.profiles import isolate
    from tests.helpers.world import open_sessions, seed
    from xacct_dataapi.config import Config, state_path_for
    from xacct_dataapi.sandbox import limits

    directory.mkdir(parents=True, exist_ok=True)
    isolate(mp, directory)
    limits.install()
    counter = RequestCounter().install(mp)
    with mock_aws(config={"core": {"mock_credentials": False}}), least_privilege(seed(*open_sessions())) as world:
        ec2 = world.consumer.client("ec2")
        placements = [(world.vpc_id, world.subnet_ids)]
        for i in range(others):
            vpc = ec2.create_vpc(CidrBlock=f"10.{40 + i}.0.0/16")["Vpc"]["VpcId"]
            ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
            ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{40 + i}.1.0/24", AvailabilityZone="us-west-2a")
            placements.append((vpc, (subnet["Subnet"]["SubnetId"],)))
        if others:
            grant(world, vpcs=tuple(vpc for vpc, _ in placements))  # the administrator's, for each VPC
        for i, (vpc, subnets) in enumerate(placements):
            cfg = Config(name="default" if i == 0 else f"other{i}", consumer_profile="consumer",
                         provider_profile="provider", cluster=world.cluster_id, vpc_id=vpc, subnet_ids=subnets,
                         enable_data_api=i == 0).validate()
            path = state_path_for(cfg.name)
            ctx, plan = plan_for(cfg, "bench-Passw0rd-not-secret", path)
            apply_setup(ctx, plan, path, sleep=lambda s: None)
        counter.take()
        apply_teardown(state_path_for("default"), sleep=lambda s: None)
        counts = counter.take()
        cluster = world.provider.client("rds").describe_db_clusters(DBClusterIdentifier=world.cluster_id)
        return counts, bool(cluster["DBClusters"][0].get("HttpEndpointEnabled"))
