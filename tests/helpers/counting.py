"""Count the HTTP requests xacct sends, per account and operation, with a botocore `before-send` hook on every
client `xacct_dataapi.aws.Sessions.client` builds (one count per request: every page, poll and retry)."""
from __future__ import annotations

import threading
from collections import Counter

from xacct_dataapi import aws as aws_mod


class RequestCounter:
    def __init__(self) -> None:
        self.counts: Counter = Counter()

    def install(self, monkeypatch) -> "RequestCounter":
        original = aws_mod.Sessions.client
        counter = self
        # Registered once per client, under a lock: lookups ask for clients from several threads at once, and
        # botocore's register(unique_id=) is a check-then-add without a lock (botocore/hooks.py,
        # _register_section), so two threads could both add the counter and every request would count twice.
        lock = threading.Lock()

        def client(sessions, account, service):
            c = original(sessions, account, service)
            if getattr(c, "_xacct_counted_by", None) is counter:
                return c
            with lock:
                if getattr(c, "_xacct_counted_by", None) is not counter:
                    def before_send(event_name: str, **_):
                        _, service_id, operation = event_name.split(".", 2)  # before-send.<service>.<Operation>
                        counter.counts[f"{account.value}:{service_id}.{operation}"] += 1

                    c.meta.events.register("before-send.*.*", before_send, unique_id="xacct-test-request-counter")
                    c._xacct_counted_by = counter
            return c

        monkeypatch.setattr(aws_mod.Sessions, "client", client)
        return self

    def take(self) -> Counter:
        """The counts so far, and start again from zero."""
        counts, self.counts = self.counts, Counter()
        return counts


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
