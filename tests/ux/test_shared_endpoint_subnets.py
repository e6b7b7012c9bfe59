"""A deployment joining the VPC's shared rds-data endpoint with other --subnets than the endpoint's: the plan says the
endpoint's subnets are kept (shared, placed by the deployment that made it) and how to move them, never silently."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def endpoint_reason(args: list[str]) -> str:
    res = invoke([*args, "--dry-run", "--output", "json"])
    assert res.exit_code == 0, res.output
    return next(s["reason"] for s in json.loads(res.stdout)["steps"] if s["key"] == "endpoint")


def endpoint_subnets(world) -> list[str]:
    endpoints = world.consumer.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    live = [e for e in endpoints if e["State"].lower() not in ("deleted", "deleting")]
    assert len(live) == 1, live
    return sorted(live[0]["SubnetIds"])


def test_a_joining_deployment_is_told_its_subnets_are_the_shared_endpoints(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    both, (one, _) = sorted(world.subnet_ids), world.subnet_ids
    billing = world.setup_args("--enable-data-api", name="billing")
    billing[billing.index("--subnets") + 1] = one

    expected = (f"note: --subnets {one} is not applied: the shared endpoint", f"stays in its subnets {', '.join(both)}, "
                "which deployment 'orders' chose and its members share", "to move it, run `xacct setup --name orders "
                                                                          "--subnets ...`")
    reason = endpoint_reason(billing)  # joining
    assert all(part in reason for part in expected), reason
    res = invoke([*billing, "--yes"])
    assert res.exit_code == 0, res.output
    assert endpoint_subnets(world) == both  # AWS: the endpoint was not moved by the member
    assert json.load(open(".xacct/billing.json"))["config"]["subnet_ids"] == [one]

    reason = endpoint_reason(["setup", "--name", "billing"])  # a member already: said on every plan, not only the first
    assert all(part in reason for part in expected), reason
    res = invoke(["status", "--name", "billing", "--output", "json"])
    assert res.exit_code == 0, res.output
    # doctor does not hold the member to the subnets it was not given: the maker placed the endpoint.
    res = invoke(["doctor", "--name", "billing", "--output", "json"])
    placement = next(c for c in json.loads(res.stdout)["checks"] if c["id"] == "endpoint.placement")
    assert placement["status"] == "ok" and "shared: deployment 'orders' made it" in placement["evidence"], placement
    res = invoke(["doctor", "--name", "orders", "--output", "json"])  # the maker is still held to its own
    placement = next(c for c in json.loads(res.stdout)["checks"] if c["id"] == "endpoint.placement")
    assert placement["status"] == "ok" and "shared" not in placement["evidence"], placement

    # The same subnets as the endpoint's: nothing to say.
    assert "is not applied" not in endpoint_reason(world.setup_args("--enable-data-api", name="reports"))
    # And the way the note gives works: the maker's setup moves the endpoint (for every member).
    assert invoke(["setup", "--name", "orders", "--subnets", one, "--yes"]).exit_code == 0
    assert endpoint_subnets(world) == [one]
    assert "is not applied" not in endpoint_reason(["setup", "--name", "billing"])
