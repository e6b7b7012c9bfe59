"""Where this shell's rds-data calls come from, when xacct can tell: only against the sandbox.

On AWS the network a call leaves from decides whether it goes through the VPC's endpoint, and xacct cannot see that.
The sandbox (docs/sandbox.md) puts "an application inside the consumer VPC" in the request's path instead: `sandbox up`
prints AWS_ENDPOINT_URL_RDS_DATA=http://127.0.0.1:PORT/_vpc/VPC/ADDRESS for it, and without that variable a call
against the sandbox comes from outside every VPC.
"""
from __future__ import annotations

import os
import re
from urllib.parse import urlparse

INSIDE = re.compile(r"/_vpc/([^/]+)/([^/]+)/?$")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _standing() -> tuple[str, str, str] | None:
    """Where this shell reaches the sandbox's rds-data from: ("inside", VPC, ADDRESS) from AWS_ENDPOINT_URL_RDS_DATA,
    ("outside", "", "") when the sandbox is reached with no VPC in the path, None when it is not the sandbox's."""
    url = os.environ.get("AWS_ENDPOINT_URL_RDS_DATA") or ""
    inside = INSIDE.search(urlparse(url).path)
    if inside and urlparse(url).hostname in LOOPBACK:
        return ("inside", *inside.groups())
    if urlparse(os.environ.get("AWS_ENDPOINT_URL") or url).hostname in LOOPBACK or _profiles_on_loopback():
        return ("outside", "", "")
    return None


def outside_in_sandbox(vpc_id: str) -> bool:
    """True only when this shell is known to reach the sandbox's rds-data from outside `vpc_id` (on AWS: never known)."""
    where = _standing()
    return where is not None and where[:2] != ("inside", vpc_id)


def in_sandbox(vpc_id: str) -> str:
    """A sentence on which way this shell reaches rds-data in the sandbox, or "" when it is not the sandbox's."""
    where = _standing()
    if where is None:
        return ""
    how, vpc, address = where
    if how == "outside":
        return (" In this shell (the sandbox): outside the VPC; the application's environment that `xacct sandbox up` "
                "prints (AWS_ENDPOINT_URL_RDS_DATA=…/_vpc/VPC/ADDRESS) is inside it.")
    if vpc == vpc_id:
        return (f" In this shell (the sandbox): inside {vpc_id}, as {address} (AWS_ENDPOINT_URL_RDS_DATA), so "
                "rds-data calls go through the endpoint.")
    return f" In this shell (the sandbox): inside another VPC, {vpc} (AWS_ENDPOINT_URL_RDS_DATA), so outside {vpc_id}."


def _profiles_on_loopback() -> bool:
    """The AWS config file names an endpoint_url on this machine: the sandbox's profiles (sandbox/seed.py)."""
    import configparser

    path = os.environ.get("AWS_CONFIG_FILE")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path or [], encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return False
    return any(urlparse(section.get("endpoint_url", "")).hostname in LOOPBACK for section in parser.values())
