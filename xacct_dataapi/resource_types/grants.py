"""The vocabulary the resource types declare the operator's IAM grants in (each module's GRANTS; permissions.py
assembles them into `xacct permissions` and docs/permissions.md).

A Grant is one statement: actions, each with the commands that call it, on ARN patterns of the deployment's names
(filled by permissions.Scope: {p} partition, {region}, {provider}, {consumer}, {cluster}, {vpc}, {name}, {tag_key},
{tag_value}, {app_role}, {app_user}, {chain_role}, {chain_secret}), with its condition keys.
"""
from __future__ import annotations

from dataclasses import dataclass

from xacct_dataapi.models import Account

READS = ("setup", "status", "doctor")  # the inspections: setup plans from them, status and doctor report them
# Reads of a policy document: the inspections, and teardown's ownership check of an inline policy (resource_types).
POLICY_READS = READS + ("teardown",)
FINDS = ("setup", "status", "teardown", "doctor")  # also lost-state discovery (teardown, doctor without state)
SETUP, TEARDOWN = ("setup",), ("teardown",)
REPLACES = ("setup", "teardown")  # deleted by teardown, and by setup when it replaces the resource
@dataclass(frozen=True)
class Grant:
    """One statement of the operator's policy: actions (each with the commands that need it) on resources."""

    sid: str
    side: Account
    actions: dict[str, tuple[str, ...]]
    resources: tuple[str, ...]
    condition: dict | None = None
    why_star: str = ""  # required when resources == ("*",): why the action takes no narrower resource
    only_with: str = ""  # a Scope field that must be set (an adopted principal, a chain xacct did not make)
    implied: tuple[str, ...] = ()  # actions IAM checks on the side of another call, never called directly

    def commands_of(self, action: str) -> tuple[str, ...]:
        return self.actions[action]


P, C = Account.PROVIDER, Account.CONSUMER
CLUSTER = "arn:{p}:rds:{region}:{provider}:cluster:{cluster}"
KEYS = "arn:{p}:kms:{region}:{provider}:key/*"
ALIAS = "arn:{p}:kms:{region}:{provider}:alias/xacct-{name}"
# The aliases under the deployment's own (config.Names.owns_alias); not `alias/xacct-{name}*`, which would also
# match deployment `{name}-x`'s.
ALIASES = "arn:{p}:kms:{region}:{provider}:alias/xacct-{name}/*"
SECRET = "arn:{p}:secretsmanager:{region}:{provider}:secret:xacct-{name}/db-credentials"
# A role's ARN, the resource IAM authorises its calls on, includes its path (config.Names.access_role_path).
ACCESS_ROLE = "arn:{p}:iam::{provider}:role/xacct/{region}/{cluster}/xacct-{name}-data-api-access"
# The same role made by an xacct before the path, at `/`: setup replaces it (deletes it, creates it at the path),
# teardown deletes it.
LEGACY_ACCESS_ROLE = "arn:{p}:iam::{provider}:role/xacct-{name}-data-api-access"
CONSUMER_USER = "arn:{p}:iam::{consumer}:user/xacct-{name}-data-api-client"
SG = "arn:{p}:ec2:{region}:{consumer}:security-group/*"
VPCE = "arn:{p}:ec2:{region}:{consumer}:vpc-endpoint/*"
REQUEST_TAG = {"StringEquals": {"aws:RequestTag/{tag_key}": "{tag_value}"}}
RESOURCE_TAG = {"StringEquals": {"aws:ResourceTag/{tag_key}": "{tag_value}"}}

