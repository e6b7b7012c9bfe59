"""Step 8 against moto: both sides of the path are judged, with the return ports AWS documents (1024-65535).

- the endpoint's subnets: tcp/443 in from the clients, the return traffic out to them;
- the clients' own subnets (the VPC's other subnets inside the client CIDRs): tcp/443 out to the endpoint's subnets,
  the return traffic in from them.
A deployment that joined another's endpoint judges the subnets the endpoint is in, not its own --subnets.
"""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.helpers.inventory import live_endpoints
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def acl_for(world, subnet_id: str, entries: list[tuple]) -> str:
    """A new NACL on the subnet with these (number, egress, action, from_port, to_port) tcp entries, all CIDRs."""
    ec2 = world.consumer.client("ec2")
    acl = ec2.create_network_acl(VpcId=world.vpc_id)["NetworkAcl"]["NetworkAclId"]
    for number, egress, action, lo, hi in entries:
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=number, Protocol="6", RuleAction=action,
                                     Egress=egress, CidrBlock="0.0.0.0/0", PortRange={"From": lo, "To": hi})
    assoc = next(a for n in ec2.describe_network_acls()["NetworkAcls"] for a in n.get("Associations", [])
                 if a["SubnetId"] == subnet_id)
    ec2.replace_network_acl_association(AssociationId=assoc["NetworkAclAssociationId"], NetworkAclId=acl)
    return acl


def step8(res) -> dict:
    return next(s for s in json.loads(res.stdout)["steps"] if s["number"] == 8)


def test_a_client_subnet_that_cannot_send_https_is_named(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    client = world.consumer.client("ec2").create_subnet(VpcId=world.vpc_id, CidrBlock="10.20.9.0/24",
                                                        AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]
    acl = acl_for(world, client, [(90, True, "deny", 443, 443), (100, True, "allow", 0, 65535),
                                  (100, False, "allow", 0, 65535)])
    res = invoke(["status", "--output", "json"])
    assert res.exit_code == 1, res.output
    problems = " ".join(step8(res)["detail"])
    assert f"{acl} (subnet {client}) blocks outbound tcp 443 to the endpoint's subnet" in problems
    assert "rule 90 denies it" in problems and "--egress" in problems
    doctor = invoke(["doctor", "--output", "json"])
    assert doctor.exit_code == 1
    nacl = next(c for c in json.loads(doctor.stdout)["checks"] if c["id"] == "nacl.https")
    assert nacl["status"] == "fail" and client in nacl["evidence"]


def test_return_traffic_below_32768_is_required(world, password):
    """A NAT gateway, a load balancer or Lambda answers from ports 1024 and up: an endpoint subnet that returns
    traffic only to 32768-65535 (the Linux default) blocks them."""
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    acl = acl_for(world, world.subnet_ids[0], [(100, False, "allow", 443, 443), (100, True, "allow", 32768, 65535)])
    res = invoke(["status", "--output", "json"])
    assert res.exit_code == 1, res.output
    problems = " ".join(step8(res)["detail"])
    assert f"{acl} (subnet {world.subnet_ids[0]}) blocks outbound tcp 1024-65535 (return traffic)" in problems


def test_the_default_acls_pass(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    world.consumer.client("ec2").create_subnet(VpcId=world.vpc_id, CidrBlock="10.20.9.0/24", AvailabilityZone="us-west-2a")
    res = invoke(["status", "--output", "json"])
    assert res.exit_code == 0, res.output
    assert "1024-65535" in step8(res)["reason"]


def joined(world, maker_subnet: str, member_subnet: str) -> None:
    """Deployment "orders" makes the VPC's endpoint in `maker_subnet`; "billing" joins it with --subnets
    `member_subnet`."""
    orders = world.args_in(world.setup_args("--enable-data-api", "--yes", name="orders"), world.vpc_id, (maker_subnet,))
    assert invoke(orders).exit_code == 0
    billing = world.args_in(world.setup_args("--enable-data-api", "--yes", name="billing"), world.vpc_id, (member_subnet,))
    res = invoke(billing)
    assert res.exit_code == 0, res.output
    (ep,) = live_endpoints(world.consumer, world.vpc_id)
    assert ep["SubnetIds"] == [maker_subnet]  # AWS: one endpoint, where its maker put it, not in billing's subnet


def test_a_member_checks_the_subnet_the_shared_endpoint_is_in_not_its_own_subnets(world, password):
    """The member's clients reach the endpoint's interfaces in the maker's subnet: that subnet's NACL must let tcp/443
    in, whatever the member's --subnets say."""
    endpoint_subnet, member_subnet = world.subnet_ids
    joined(world, endpoint_subnet, member_subnet)
    acl = acl_for(world, endpoint_subnet, [(90, False, "deny", 443, 443), (100, False, "allow", 0, 65535),
                                           (100, True, "allow", 0, 65535)])
    res = invoke(["status", "--name", "billing", "--output", "json"])
    assert res.exit_code == 1, res.output
    step = step8(res)
    problems = " ".join(step["detail"])
    assert f"{acl} (subnet {endpoint_subnet}) blocks inbound tcp 443 from" in problems, problems
    assert "rule 90 denies it" in problems and "--ingress" in problems
    assert member_subnet not in problems  # its own subnet's NACL (the default) passes what a client subnet sends


def test_a_member_is_not_failed_by_a_nacl_on_a_subnet_the_endpoint_is_not_in(world, password):
    """Inbound tcp/443 denied on the member's own --subnets (no endpoint interface there, only clients, which send
    443 and receive the return traffic) blocks nothing on the path."""
    endpoint_subnet, member_subnet = world.subnet_ids
    joined(world, endpoint_subnet, member_subnet)
    acl_for(world, member_subnet, [(90, False, "deny", 443, 443), (100, False, "allow", 0, 65535),
                                   (100, True, "allow", 0, 65535)])
    res = invoke(["status", "--name", "billing", "--output", "json"])
    assert res.exit_code == 0, res.output
    step = step8(res)
    assert (step["status"], step["detail"]) == ("done", [])
    assert f"the endpoint's subnets: {endpoint_subnet}" in step["reason"], step["reason"]
