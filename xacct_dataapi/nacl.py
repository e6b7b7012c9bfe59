"""A pure evaluator of network ACL entries, in rule-number order as AWS evaluates them.

NACLs are stateless: the endpoint's subnets must let HTTPS (tcp/443) in from the clients AND the return
traffic (the clients' ephemeral ports) back out. The first rule that matches decides; rule 32767 ('*')
denies everything else.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# The return traffic's ports: AWS documents 1024-65535 for clients in general (NAT gateways, Elastic Load Balancing
# and Lambda use 1024 and up; 32768-60999 is only Linux's default). "Network ACLs", Ephemeral ports,
# https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html (docs/aws-facts.md).
EPHEMERAL = (1024, 65535)
HTTPS = (443, 443)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    rule_number: int | None
    reason: str


def _covers_ports(entry: dict, ports: tuple[int, int]) -> tuple[bool, bool]:
    """(fully covers, overlaps) for the tcp port range."""
    proto = str(entry.get("Protocol"))
    if proto == "-1":
        return True, True
    if proto != "6":
        return False, False
    pr = entry.get("PortRange") or {}
    lo, hi = int(pr.get("From", 0)), int(pr.get("To", 65535))
    return (lo <= ports[0] and hi >= ports[1]), (lo <= ports[1] and hi >= ports[0])


def _covers_net(entry: dict, peer: ipaddress.IPv4Network) -> tuple[bool, bool]:
    cidr = entry.get("CidrBlock")
    if not cidr:
        return False, False  # IPv6 rule: does not apply to IPv4 traffic
    net = ipaddress.ip_network(cidr, strict=False)
    return peer.subnet_of(net), peer.overlaps(net)


def evaluate(entries: list[dict], *, egress: bool, ports: tuple[int, int], peer_cidr: str) -> Verdict:
    """Does the NACL let tcp traffic to/from `peer_cidr` on every port in `ports` through, in that direction?

    A deny that overlaps any of the traffic before a full allow blocks it; an allow that covers only part of
    it does not settle the question, so evaluation goes on for the rest.
    """
    peer = ipaddress.ip_network(peer_cidr, strict=False)
    rules = sorted((e for e in entries if bool(e.get("Egress")) == egress), key=lambda e: int(e["RuleNumber"]))
    for e in rules:
        net_full, net_overlap = _covers_net(e, peer)
        port_full, port_overlap = _covers_ports(e, ports)
        if not (net_overlap and port_overlap):
            continue
        if e.get("RuleAction") == "deny":
            return Verdict(False, int(e["RuleNumber"]), "deny")
        if net_full and port_full:
            return Verdict(True, int(e["RuleNumber"]), "allow")
    return Verdict(False, None, "no rule allows it (the default '*' rule denies)")
