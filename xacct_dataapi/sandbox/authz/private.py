"""Requests "from inside the VPC": how the sandbox tells them from requests from outside, and what they carry.

A client inside the consumer VPC is a profile whose endpoint_url is `http://127.0.0.1:PORT/_vpc/VPC_ID/CLIENT_IP`
(`xacct sandbox up` writes one: `xacct-app-in-vpc`). The server's WSGI layer (`strip_vpc_prefix`) removes that prefix
and marks the request. For rds-data such a request goes, as with private DNS on AWS, through the VPC's interface
endpoint for `com.amazonaws.REGION.rds-data` when one exists with private DNS on:
- the endpoint's security groups must allow TCP 443 from the client's address, else the connection would time out
  (the sandbox answers `ConnectTimeout`, an error no AWS service returns: the client never reached AWS);
- its endpoint policy must admit the call (decide.py), and the request carries `aws:SourceVpce` (the endpoint id)
  and `aws:SourceVpc`.
Without such an endpoint the request reaches the public endpoint (as from a VPC with a NAT gateway) and carries
neither key; a request from outside never does. Other services are always reached publicly (no STS/KMS/Secrets
Manager endpoints are modelled). Source: "Access an AWS service using an interface VPC endpoint" and "Control access
to VPC endpoints using endpoint policies" (https://docs.aws.amazon.com/vpc/latest/privatelink/).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Callable

HEADER = "X-Xacct-Sandbox-From"
PREFIX = "/_vpc/"


@dataclass
class Path:
    context: dict = field(default_factory=dict)
    endpoint_policy: Any = None


def _allows_443(group: Any, client_ip: str) -> bool:
    for rule in getattr(group, "ingress_rules", []):
        proto = str(rule.ip_protocol)
        if proto not in ("tcp", "6", "-1"):
            continue
        if proto != "-1" and not (int(rule.from_port or 0) <= 443 <= int(rule.to_port or 65535)):
            continue
        # moto keeps one range per rule (ip_range); older versions a list (ip_ranges)
        ranges = getattr(rule, "ip_ranges", None) or [getattr(rule, "ip_range", None) or {}]
        for block in ranges:
            cidr = block.get("CidrIp") if isinstance(block, dict) else block
            if not cidr:
                continue
            try:
                if ipaddress.ip_address(client_ip) in ipaddress.ip_network(str(cidr), strict=False):
                    return True
            except ValueError:
                continue
    return False


def _rds_data_endpoint(vpc_id: str, region: str) -> tuple[Any, Any]:
    from moto.ec2.models import ec2_backends

    for account in list(ec2_backends.keys()):
        backend = ec2_backends[account][region]
        if vpc_id not in backend.vpcs:
            continue
        for ep in backend.vpc_end_points.values():
            if (ep.vpc_id == vpc_id and ep.service_name == f"com.amazonaws.{region}.rds-data"
                    and ep.state == "available" and str(ep.private_dns_enabled).lower() == "true"):
                return backend, ep
        return backend, None
    return None, None


def path_of(headers: Any, region: str) -> Path:
    from xacct_dataapi.sandbox.authz.caller import Refusal as _Refusal

    source = headers.get(HEADER)
    if not source:
        return Path()
    vpc_id, _, client_ip = str(source).partition("/")
    backend, endpoint = _rds_data_endpoint(vpc_id, region)
    if endpoint is None:
        return Path()
    groups = [backend.get_security_group_from_id(g) for g in endpoint.security_group_ids or []]
    if not any(g is not None and _allows_443(g, client_ip) for g in groups):
        raise _Refusal("ConnectTimeout", f"Connect timeout on endpoint URL: rds-data.{region}.amazonaws.com resolves "
                       f"to {endpoint.id} in {vpc_id}, and its security groups allow no TCP 443 from {client_ip} "
                       "(the sandbox answers for a connection AWS would never accept).")
    policy = endpoint.policy_document or None
    return Path({"aws:sourcevpce": [endpoint.id], "aws:sourcevpc": [vpc_id]}, policy)


def signed_path(headers: Any, path: str) -> str:
    """The path the client signed: with the /_vpc/VPC/IP prefix that strip_vpc_prefix removed."""
    inside = headers.get(HEADER)
    return f"{PREFIX}{inside}{path}" if inside else path


def strip_vpc_prefix(app: Callable) -> Callable:
    """WSGI: a request to /_vpc/VPC/IP/rest... is served as /rest... and marked as coming from IP inside VPC."""
    def from_inside(environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        environ.pop("HTTP_" + HEADER.upper().replace("-", "_"), None)  # only the prefix may say so
        if path.startswith(PREFIX):
            parts = path[len(PREFIX):].split("/", 2)
            if len(parts) >= 2:
                environ["HTTP_" + HEADER.upper().replace("-", "_")] = f"{parts[0]}/{parts[1]}"
                environ["PATH_INFO"] = "/" + (parts[2] if len(parts) > 2 else "")
                environ["RAW_URI"] = environ["REQUEST_URI"] = environ["PATH_INFO"]
        return app(environ, start_response)
    return from_inside
