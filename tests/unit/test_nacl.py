"""Pure tests of the NACL evaluator (xacct_dataapi/nacl.py) and step 8's messages (steps/nacl_check.py)."""
from __future__ import annotations

from types import SimpleNamespace


from xacct_dataapi.models import Action
from xacct_dataapi.nacl import EPHEMERAL, HTTPS, Verdict, evaluate
from xacct_dataapi.steps import nacl_check

VPC = "10.20.0.0/16"


def rule(number: int, action: str, *, egress: bool, protocol: str = "-1", ports: tuple[int, int] | None = None,
         cidr: str | None = "0.0.0.0/0", ipv6: str | None = None) -> dict:
    """An entry shaped like DescribeNetworkAcls returns it."""
    e = {"RuleNumber": number, "Protocol": protocol, "RuleAction": action, "Egress": egress}
    if cidr is not None:
        e["CidrBlock"] = cidr
    if ipv6 is not None:
        e["Ipv6CidrBlock"] = ipv6
    if ports is not None:
        e["PortRange"] = {"From": ports[0], "To": ports[1]}
    return e


def default_entries() -> list[dict]:
    """What AWS puts in a VPC's default NACL: allow all at 100, the '*' deny at 32767, both directions."""
    return [
        rule(100, "allow", egress=False), rule(32767, "deny", egress=False),
        rule(100, "allow", egress=True), rule(32767, "deny", egress=True),
    ]


def inbound_https(entries):
    return evaluate(entries, egress=False, ports=HTTPS, peer_cidr=VPC)


def outbound_ephemeral(entries):
    return evaluate(entries, egress=True, ports=EPHEMERAL, peer_cidr=VPC)


def test_default_nacl_allows_both_directions():
    assert inbound_https(default_entries()) == Verdict(True, 100, "allow")
    assert outbound_ephemeral(default_entries()) == Verdict(True, 100, "allow")


def test_deny_before_allow_blocks_with_its_rule_number():
    entries = [rule(90, "deny", egress=False, protocol="6", ports=(443, 443))] + default_entries()
    v = inbound_https(entries)
    assert v.allowed is False
    assert v.rule_number == 90
    # The same deny does not touch the other direction.
    assert outbound_ephemeral(entries) == Verdict(True, 100, "allow")


def test_deny_overlapping_part_of_the_range_blocks():
    entries = [rule(90, "deny", egress=True, protocol="6", ports=(40000, 40010))] + default_entries()
    v = outbound_ephemeral(entries)
    assert (v.allowed, v.rule_number) == (False, 90)


def test_allow_with_lower_number_than_the_deny_wins():
    entries = [
        rule(80, "allow", egress=False, protocol="6", ports=(443, 443), cidr=VPC),
        rule(90, "deny", egress=False, protocol="6", ports=(443, 443)),
    ] + default_entries()
    assert inbound_https(entries) == Verdict(True, 80, "allow")


def test_unsorted_entries_are_evaluated_in_rule_number_order():
    entries = [
        rule(32767, "deny", egress=False),
        rule(100, "allow", egress=False),
        rule(90, "deny", egress=False, protocol="6", ports=(443, 443)),
    ]
    assert inbound_https(entries) == Verdict(False, 90, "deny")
    entries = [rule(200, "deny", egress=False), rule(32767, "deny", egress=False), rule(100, "allow", egress=False)]
    assert inbound_https(entries) == Verdict(True, 100, "allow")


def test_rule_numbers_compare_as_numbers_not_strings():
    entries = [rule(1000, "deny", egress=False), rule(200, "allow", egress=False)]
    entries[1]["RuleNumber"] = "200"  # even if given as text, 200 < 1000
    assert inbound_https(entries).rule_number == 200


def test_allow_1024_65535_covers_the_ephemeral_range():
    entries = [
        rule(100, "allow", egress=True, protocol="6", ports=(1024, 65535)),
        rule(32767, "deny", egress=True),
    ]
    assert outbound_ephemeral(entries) == Verdict(True, 100, "allow")


def test_allow_443_only_in_egress_does_not_cover_ephemeral():
    entries = [
        rule(100, "allow", egress=False, protocol="6", ports=(443, 443)),
        rule(100, "allow", egress=True, protocol="6", ports=(443, 443)),
        rule(32767, "deny", egress=False),
        rule(32767, "deny", egress=True),
    ]
    assert inbound_https(entries) == Verdict(True, 100, "allow")
    v = outbound_ephemeral(entries)
    assert v.allowed is False
    assert v.rule_number == 32767


def test_allow_for_a_partial_port_range_does_not_settle_it():
    entries = [rule(100, "allow", egress=True, protocol="6", ports=(32768, 60999)), rule(32767, "deny", egress=True)]
    assert outbound_ephemeral(entries) == Verdict(False, 32767, "deny")


def test_allow_for_a_narrower_cidr_than_the_vpc_does_not_settle_it():
    entries = [
        rule(100, "allow", egress=False, protocol="6", ports=(443, 443), cidr="10.20.1.0/24"),
        rule(32767, "deny", egress=False),
    ]
    v = inbound_https(entries)
    assert v.allowed is False
    assert v.rule_number == 32767
    # A wider one does.
    entries[0]["CidrBlock"] = "10.0.0.0/8"
    assert inbound_https(entries) == Verdict(True, 100, "allow")


def test_rules_for_unrelated_cidrs_are_skipped():
    entries = [rule(50, "deny", egress=False, cidr="192.168.0.0/16"), rule(100, "allow", egress=False, cidr=VPC)]
    assert inbound_https(entries) == Verdict(True, 100, "allow")


def test_ipv6_only_rules_are_ignored():
    deny_v6 = [rule(90, "deny", egress=False, cidr=None, ipv6="::/0")] + default_entries()
    assert inbound_https(deny_v6) == Verdict(True, 100, "allow")
    allow_v6 = [rule(100, "allow", egress=False, cidr=None, ipv6="::/0"), rule(32767, "deny", egress=False)]
    assert inbound_https(allow_v6) == Verdict(False, 32767, "deny")


def test_udp_does_not_match_tcp_traffic():
    allow_udp = [rule(100, "allow", egress=False, protocol="17", ports=(0, 65535)), rule(32767, "deny", egress=False)]
    assert inbound_https(allow_udp) == Verdict(False, 32767, "deny")
    deny_udp = [rule(90, "deny", egress=False, protocol="17", ports=(443, 443))] + default_entries()
    assert inbound_https(deny_udp) == Verdict(True, 100, "allow")


def test_numeric_protocol_is_understood():
    entries = [rule(90, "deny", egress=False, protocol="6", ports=(443, 443))] + default_entries()
    entries[0]["Protocol"] = 6
    assert inbound_https(entries).rule_number == 90


def test_no_matching_rule_is_a_denial_without_a_rule_number():
    v = inbound_https([])
    assert v.allowed is False and v.rule_number is None
    assert "'*'" in v.reason


# --- step 8 ---------------------------------------------------------------------------------------

SUBNET_A, SUBNET_B = "subnet-0aaa1111aaaa1111a", "subnet-0bbb2222bbbb2222b"


def acl(acl_id: str, entries: list[dict]) -> dict:
    return {"NetworkAclId": acl_id, "Entries": entries}


def test_problems_for_a_blocking_nacl_names_it_the_rule_and_the_fix():
    blocking = acl("acl-0blocking11112222", [rule(90, "deny", egress=False, protocol="6", ports=(443, 443))] + default_entries())
    problems = nacl_check.problems_for({SUBNET_A: blocking}, [SUBNET_A], VPC)
    assert len(problems) == 1
    (msg,) = problems
    assert "acl-0blocking11112222" in msg
    assert SUBNET_A in msg
    assert "rule 90" in msg
    assert "Fix" in msg
    assert "create-network-acl-entry" in msg and "--ingress" in msg and "From=443,To=443" in msg
    assert "below 90" in msg
    assert VPC in msg


def test_problems_for_blocked_return_traffic_names_the_egress_fix():
    entries = [
        rule(100, "allow", egress=False, protocol="6", ports=(443, 443)),
        rule(100, "allow", egress=True, protocol="6", ports=(443, 443)),
        rule(32767, "deny", egress=False),
        rule(32767, "deny", egress=True),
    ]
    (msg,) = nacl_check.problems_for({SUBNET_A: acl("acl-0egress", entries)}, [SUBNET_A], VPC)
    assert "acl-0egress" in msg and "rule 32767" in msg and "Fix" in msg
    assert "--egress" in msg and f"From={EPHEMERAL[0]},To={EPHEMERAL[1]}" in msg


def test_problems_for_without_any_matching_rule():
    (msg,) = nacl_check.problems_for({SUBNET_A: acl("acl-0empty", [rule(100, "allow", egress=True)])}, [SUBNET_A], VPC)
    assert "acl-0empty" in msg and "Fix" in msg and "below 32767" in msg


def test_problems_for_default_nacls_is_empty_and_missing_subnets_are_skipped():
    acls = {SUBNET_A: acl("acl-0default", default_entries())}
    assert nacl_check.problems_for(acls, [SUBNET_A, SUBNET_B], VPC) == []


def test_nacl_check_plan_is_a_check_with_problems_or_a_noop():
    ctx = SimpleNamespace(cfg=SimpleNamespace(subnet_ids=(SUBNET_A, SUBNET_B)), vpc_cidr=VPC, client_cidrs=[VPC], gone=[],
                          values={})
    ok = nacl_check.plan(ctx, desired=[], facts={"acls": {SUBNET_A: acl("acl-0default", default_entries()),
                                        SUBNET_B: acl("acl-0default", default_entries())}})
    assert ok.action is Action.NOOP and ok.calls == [] and ok.problems == []
    assert "1 network ACL(s)" in ok.reason
    bad_entries = [rule(90, "deny", egress=False, protocol="6", ports=(443, 443))] + default_entries()
    bad = nacl_check.plan(ctx, desired=[], facts={"acls": {SUBNET_A: acl("acl-0default", default_entries()),
                                         SUBNET_B: acl("acl-0bad", bad_entries)}})
    assert bad.action is Action.CHECK and bad.calls == []
    assert len(bad.problems) == 1 and "acl-0bad" in bad.problems[0] and SUBNET_B in bad.problems[0]
    assert nacl_check.STEP.kinds == () and nacl_check.STEP.teardown is None  # a check records nothing to delete


def test_a_joined_endpoints_subnets_are_judged_as_the_endpoints_and_the_member_subnets_as_clients():
    """Step 7's inspection gives a joined endpoint's subnets (AWS's SubnetIds): they, not --subnets, are the
    endpoint's side; the member's --subnets are then a client subnet like any other of the VPC."""
    deny_in_443 = acl("acl-0deny443", [rule(90, "deny", egress=False, protocol="6", ports=(443, 443))] + default_entries())
    facts = {"acls": {SUBNET_A: deny_in_443, SUBNET_B: acl("acl-0default", default_entries())},
             "subnet_cidrs": {SUBNET_A: "10.20.1.0/24", SUBNET_B: "10.20.2.0/24"}}
    member = SimpleNamespace(cfg=SimpleNamespace(subnet_ids=(SUBNET_B,)), client_cidrs=[VPC], gone=[],
                             values={"joined_endpoint_subnet_ids": [SUBNET_A]})
    bad = nacl_check.plan(member, desired=[], facts=facts)
    assert bad.action is Action.CHECK and len(bad.problems) == 1
    assert f"acl-0deny443 (subnet {SUBNET_A}) blocks inbound tcp 443" in bad.problems[0]
    # The same deny on the member's own subnet: clients only send 443 and take the return traffic in.
    facts["acls"] = {SUBNET_A: facts["acls"][SUBNET_B], SUBNET_B: deny_in_443}
    ok = nacl_check.plan(member, desired=[], facts=facts)
    assert ok.action is Action.NOOP and f"the endpoint's subnets: {SUBNET_A}" in ok.reason
