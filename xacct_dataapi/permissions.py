"""The IAM permissions the operator's own profiles need, generated from one declared table.

Every AWS action xacct's code calls with the operator's profiles is declared once in GRANTS, with the commands
that call it, the resources it touches (ARN patterns of the deployment's names) and, for `"*"`, why. `xacct
permissions` prints the policy for one side and command; docs/permissions.md is `markdown()` (a test fails when
they differ); tests/security/test_permissions_moto.py runs setup, status, verify and teardown through moto with a
botocore recorder that fails on any call whose IAM action the generated policy for that command lacks.

Not the policies xacct *writes* (those are policies.py): these are what the person running xacct needs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from xacct_dataapi.config import TAG_DEPLOYMENT, TAG_MANAGED
from xacct_dataapi.models import Account

VERSION = "2012-10-17"
COMMANDS = ("setup", "status", "teardown", "verify", "doctor")

# IAM service authorization reference (actions, resource types, condition keys), one page per service prefix.
SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference/"
SOURCES = {
    "kms": SAR + "list_awskeymanagementservice.html",
    "secretsmanager": SAR + "list_awssecretsmanager.html",
    "rds": SAR + "list_amazonrds.html",
    "rds-data": SAR + "list_amazonrdsdataapi.html",
    "ec2": SAR + "list_amazonec2.html",
    "iam": SAR + "list_awsidentityandaccessmanagementiam.html",
    "sts": SAR + "list_awssecuritytokenservice.html",
    "tag": SAR + "list_amazonresourcegrouptaggingapi.html",
    "route53": SAR + "list_amazonroute53.html",
}

# Calls every authenticated principal may make: they need (and have) no IAM permission.
NO_PERMISSION_NEEDED = ("sts:GetCallerIdentity",)

READS = ("setup", "status", "doctor")  # the inspections: setup plans from them, status and doctor report them
# Reads of a policy document: the inspections, and teardown's ownership check of an inline policy (resource_types).
POLICY_READS = READS + ("teardown",)
FINDS = ("setup", "status", "teardown", "doctor")  # also lost-state discovery (teardown, doctor without state)
SETUP, TEARDOWN = ("setup",), ("teardown",)
REPLACES = ("setup", "teardown")  # deleted by teardown, and by setup when it replaces the resource
# verify runs status first (app.verify refuses a deployment status does not report all done), so it needs status's reads.
RUNS_FIRST = {"verify": ("status",)}


def needed_by(commands: tuple[str, ...], command: str) -> bool:
    return command == "all" or command in commands or any(c in commands for c in RUNS_FIRST.get(command, ()))


@dataclass(frozen=True)
class Scope:
    """What fills the ARN patterns. The defaults are placeholders a reviewer replaces; --name narrows to one
    deployment (its names, and its xacct:deployment tag instead of xacct:managed-by)."""

    partition: str = "aws"
    region: str = "REGION"
    provider: str = "PROVIDER"
    consumer: str = "CONSUMER"
    cluster: str = "CLUSTER_ID"
    vpc: str = "VPC_ID"
    name: str = "*"
    consumer_role: str | None = None  # an adopted role (--consumer-role): its statement is added
    consumer_user: str | None = None  # an adopted user (--consumer-user)

    def fields(self) -> dict[str, str]:
        tag_key, tag_value = (TAG_MANAGED, "xacct") if self.name == "*" else (TAG_DEPLOYMENT, self.name)
        # RDS stores cluster ids in lowercase, in its ARNs and in the access role's path (Names.access_role_path).
        cluster = self.cluster if self.cluster == "CLUSTER_ID" else self.cluster.lower()
        return {"p": self.partition, "region": self.region, "provider": self.provider, "consumer": self.consumer,
                "cluster": cluster, "vpc": self.vpc, "name": self.name, "tag_key": tag_key, "tag_value": tag_value,
                "app_role": self.consumer_role or "APP_ROLE", "app_user": self.consumer_user or "APP_USER"}


@dataclass(frozen=True)
class Grant:
    """One statement of the operator's policy: actions (each with the commands that need it) on resources."""

    sid: str
    side: Account
    actions: dict[str, tuple[str, ...]]
    resources: tuple[str, ...]
    condition: dict | None = None
    why_star: str = ""  # required when resources == ("*",): why the action takes no narrower resource
    only_with: str = ""  # a Scope field that must be set (an adopted principal)
    implied: tuple[str, ...] = ()  # actions IAM checks on the side of another call, never called directly

    def commands_of(self, action: str) -> tuple[str, ...]:
        return self.actions[action]


P, C = Account.PROVIDER, Account.CONSUMER
CLUSTER = "arn:{p}:rds:{region}:{provider}:cluster:{cluster}"
KEYS = "arn:{p}:kms:{region}:{provider}:key/*"
ALIAS = "arn:{p}:kms:{region}:{provider}:alias/xacct-{name}"
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

GRANTS: tuple[Grant, ...] = (
    # ---- provider -------------------------------------------------------------------------------------------
    # Preflight; polled while the Data API switches.
    Grant("ReadCluster", P, {"rds:DescribeDBClusters": FINDS}, (CLUSTER,)),
    # setup (before turning the Data API on) and doctor: the writer's instance class (not on T classes).
    Grant("ReadClusterWriter", P, {"rds:DescribeDBInstances": ("setup", "doctor")}, ("arn:{p}:rds:{region}:{provider}:db:*",)),
    Grant("ToggleDataApiOnlyWithEnableDataApi", P,
          {"rds:EnableHttpEndpoint": SETUP, "rds:DisableHttpEndpoint": TEARDOWN,
           "rds:ModifyDBCluster": ("setup", "teardown"),  # ModifyDBCluster: Serverless v1 only
           # the xacct:data-api-enabled-by tag, set before the switch, so a teardown by tag also turns it off; a
           # teardown's xacct:data-api-closing:<name> mark while it decides whether it is the last one out
           "rds:AddTagsToResource": ("setup", "teardown"), "rds:RemoveTagsFromResource": TEARDOWN}, (CLUSTER,)),
    Grant("FindKeysByTag", P, {"tag:GetResources": FINDS}, ("*",),
          why_star="The Resource Groups Tagging API has no resource types: GetResources is authorised on `*`."),
    Grant("FindOtherDeploymentsOnCluster", P, {"iam:ListRoles": TEARDOWN}, ("*",),
          why_star="ListRoles has no resource type. Teardown lists the roles under the cluster's IAM path "
                   "(`/xacct/REGION/CLUSTER_ID/`) to see whether another xacct deployment still uses the cluster's "
                   "Data API before turning it off, and, when none is there, the account's roles for an access role "
                   "left at `/` by an older xacct."),
    Grant("CreateTaggedKey", P, {"kms:CreateKey": SETUP}, ("*",), condition=REQUEST_TAG,
          why_star="The key has no ARN before it exists (CreateKey has no resource type); narrowed by "
                   "`aws:RequestTag`."),
    Grant("TagKeyAtCreation", P, {"kms:TagResource": SETUP}, (KEYS,), condition=REQUEST_TAG,
          implied=("kms:TagResource",)),
    Grant("ReadKeys", P, {"kms:DescribeKey": FINDS,
                          "kms:ListResourceTags": FINDS, "kms:GetKeyPolicy": READS,
                          "kms:ListGrants": ("doctor",)},  # doctor: nobody holds a grant on the key
          (KEYS,)),
    # Teardown keeps the key's tag (resource_types/kms.py): untagging first would void this statement's condition.
    Grant("ManageXacctKeys", P, {"kms:PutKeyPolicy": SETUP, "kms:EnableKey": SETUP, "kms:ScheduleKeyDeletion": TEARDOWN},
          (KEYS,), condition=RESOURCE_TAG),
    Grant("ManageXacctAliases", P, {"kms:CreateAlias": SETUP, "kms:UpdateAlias": SETUP, "kms:DeleteAlias": TEARDOWN},
          (ALIAS, KEYS)),
    Grant("EncryptSecretWithXacctKey", P, {"kms:GenerateDataKey": SETUP, "kms:Decrypt": SETUP}, (KEYS,),
          condition={"StringEquals": {"kms:ViaService": "secretsmanager.{region}.amazonaws.com",
                                      "aws:ResourceTag/{tag_key}": "{tag_value}"}},
          implied=("kms:GenerateDataKey", "kms:Decrypt")),
    Grant("ManageXacctSecret", P,
          {"secretsmanager:DescribeSecret": FINDS,
           "secretsmanager:GetResourcePolicy": READS, "secretsmanager:CreateSecret": SETUP,
           "secretsmanager:TagResource": SETUP, "secretsmanager:UpdateSecret": SETUP,
           "secretsmanager:RestoreSecret": SETUP, "secretsmanager:PutResourcePolicy": SETUP,
           "secretsmanager:DeleteSecret": TEARDOWN},
          # AWS adds "-" and 6 random characters; DescribeSecret by name before it exists is checked against the
          # bare name, where the suffixed pattern alone would turn "not found" into AccessDenied.
          (SECRET, SECRET + "-??????")),
    Grant("ManageXacctAccessRole", P,
          {"iam:GetRole": FINDS, "iam:ListRoleTags": FINDS,
           "iam:GetRolePolicy": POLICY_READS, "iam:CreateRole": SETUP, "iam:TagRole": SETUP, "iam:PutRolePolicy": SETUP,
           "iam:UpdateAssumeRolePolicy": SETUP, "iam:ListRolePolicies": ("setup", "teardown", "doctor"),
           # setup too: a role at `/` (made before the path) is deleted and created again at the path.
           "iam:DeleteRolePolicy": ("setup", "teardown"), "iam:ListAttachedRolePolicies": ("setup", "teardown", "doctor"),
           "iam:DetachRolePolicy": ("setup", "teardown"), "iam:DeleteRole": ("setup", "teardown"),
           "iam:SimulatePrincipalPolicy": ("doctor",)},
          (ACCESS_ROLE, LEGACY_ACCESS_ROLE), implied=("iam:TagRole",)),
    # ---- consumer -------------------------------------------------------------------------------------------
    Grant("ReadNetwork", C,
          {"ec2:DescribeVpcs": READS, "ec2:DescribeSubnets": READS,
           "ec2:DescribeVpcEndpointServices": READS, "ec2:DescribeSecurityGroups": FINDS,
           "ec2:DescribeVpcEndpoints": FINDS, "ec2:DescribeNetworkAcls": READS,
           "ec2:DescribeNetworkInterfaces": TEARDOWN}, ("*",),
          why_star="These EC2 Describe actions have no resource type: they are authorised on `*` "
                   "(DescribeVpcAttribute, which takes the VPC, has its own statement)."),
    # The one EC2 Describe action with a resource type: the VPC's DNS attributes (private DNS needs both on).
    Grant("ReadVpcDnsAttributes", C, {"ec2:DescribeVpcAttribute": READS}, ("arn:{p}:ec2:{region}:{consumer}:vpc/{vpc}",)),
    Grant("ReadPrivateHostedZones", C, {"route53:ListHostedZonesByVPC": READS}, ("*",),
          why_star="ListHostedZonesByVPC has no resource type (preflight and doctor: a private zone for rds-data "
                   "associated with the VPC takes the endpoint's DNS name)."),
    # aws:RequestTag / aws:TagKeys exist only on the resource being created (service authorization reference, EC2:
    # CreateSecurityGroup and CreateVpcEndpoint list them on security-group / vpc-endpoint only): the VPC, subnets and
    # existing groups the call also names are granted without them, in their own statement.
    Grant("CreateInTheVpc", C, {"ec2:CreateSecurityGroup": SETUP, "ec2:CreateVpcEndpoint": SETUP},
          ("arn:{p}:ec2:{region}:{consumer}:vpc/{vpc}",)),
    Grant("EndpointInSubnetsWithGroup", C, {"ec2:CreateVpcEndpoint": SETUP},
          ("arn:{p}:ec2:{region}:{consumer}:subnet/*", SG)),
    Grant("CreateTaggedSecurityGroup", C, {"ec2:CreateSecurityGroup": SETUP}, (SG,), condition=REQUEST_TAG),
    Grant("CreateTaggedEndpoint", C, {"ec2:CreateVpcEndpoint": SETUP}, (VPCE,), condition=REQUEST_TAG),
    Grant("TagOnlyAtCreation", C, {"ec2:CreateTags": SETUP}, (SG, VPCE),
          condition={"StringEquals": {"ec2:CreateAction": ["CreateSecurityGroup", "CreateVpcEndpoint"]}},
          implied=("ec2:CreateTags",)),
    Grant("ManageXacctSecurityGroup", C,
          {"ec2:AuthorizeSecurityGroupIngress": SETUP, "ec2:AuthorizeSecurityGroupEgress": SETUP,
           "ec2:RevokeSecurityGroupIngress": SETUP, "ec2:RevokeSecurityGroupEgress": SETUP,
           "ec2:DeleteSecurityGroup": TEARDOWN}, (SG,), condition=RESOURCE_TAG),
    Grant("ManageXacctEndpoint", C, {"ec2:ModifyVpcEndpoint": SETUP, "ec2:DeleteVpcEndpoints": TEARDOWN}, (VPCE,),
          condition=RESOURCE_TAG),
    # The rds-data endpoint of a VPC is shared by its deployments (docs/reliability.md, "The shared endpoint"): each
    # adds and removes only its own member tag and closing mark, on any endpoint xacct made...
    Grant("JoinOrLeaveSharedEndpoint", C, {"ec2:CreateTags": ("setup", "teardown"), "ec2:DeleteTags": ("setup", "teardown")},
          (VPCE,), condition={"StringEquals": {f"aws:ResourceTag/{TAG_MANAGED}": "xacct"},
                              "ForAllValues:StringEquals": {"aws:TagKeys": ["xacct:member:{name}", "xacct:closing:{name}"]}}),
    # Its membership facts are tags on its own group (steps/endpoint_members.py); it admits its members' client CIDRs
    # on the endpoint's group, which may be another deployment's.
    Grant("MembershipFactsOnOwnGroup", C, {"ec2:CreateTags": ("setup", "teardown"), "ec2:DeleteTags": ("setup", "teardown")},
          (SG,), condition={**RESOURCE_TAG, "ForAllValues:StringEquals": {"aws:TagKeys": [
              "xacct:endpoint", "xacct:cluster", "xacct:client-cidrs"]}}),
    Grant("SharedEndpointGroupRules", C,
          {"ec2:AuthorizeSecurityGroupIngress": ("setup", "teardown"), "ec2:AuthorizeSecurityGroupEgress": ("setup", "teardown"),
           "ec2:RevokeSecurityGroupIngress": ("setup", "teardown"), "ec2:RevokeSecurityGroupEgress": ("setup", "teardown")},
          (SG,), condition={"StringEquals": {f"aws:ResourceTag/{TAG_MANAGED}": "xacct"}}),
    # ...rewrites its policy from the members, and, as the last member out, deletes it (whoever made it).
    Grant("ConvergeSharedEndpoint", C, {"ec2:ModifyVpcEndpoint": ("setup", "teardown"), "ec2:DeleteVpcEndpoints": TEARDOWN},
          (VPCE,), condition={"StringEquals": {f"aws:ResourceTag/{TAG_MANAGED}": "xacct"}}),
    Grant("RepairEndpointSubnetsAndGroup", C, {"ec2:ModifyVpcEndpoint": SETUP},
          ("arn:{p}:ec2:{region}:{consumer}:subnet/*", SG)),
    # Private DNS associates the VPC with a hosted zone AWS owns (its id is not yours to name): any hosted zone.
    Grant("EndpointPrivateDns", C, {"route53:AssociateVPCWithHostedZone": SETUP}, ("arn:{p}:route53:::hostedzone/*",),
          implied=("route53:AssociateVPCWithHostedZone",)),
    Grant("ManageXacctConsumerUser", C,
          {"iam:GetUser": FINDS, "iam:ListUserTags": FINDS,
           "iam:GetUserPolicy": POLICY_READS, "iam:CreateUser": SETUP, "iam:TagUser": SETUP, "iam:PutUserPolicy": SETUP,
           # setup too: adopting the application's own principal (--consumer-user/--consumer-role) replaces the user
           # xacct made, which setup then deletes (planner.replace_what_is_no_longer_desired).
           "iam:DeleteUserPolicy": REPLACES, "iam:ListUserPolicies": REPLACES,
           "iam:ListAttachedUserPolicies": REPLACES, "iam:DetachUserPolicy": REPLACES,
           "iam:ListAccessKeys": ("setup", "teardown", "verify"), "iam:CreateAccessKey": ("verify",),
           "iam:DeleteAccessKey": ("setup", "verify", "teardown"), "iam:DeleteLoginProfile": REPLACES,
           "iam:DeleteUser": REPLACES, "iam:SimulatePrincipalPolicy": ("doctor",)},
          # verify's temporary key is deleted at once, or by the next verify after a crash (ListAccessKeys finds a
          # key whose id a killed run could not record).
          (CONSUMER_USER,), implied=("iam:TagUser",)),
    Grant("AdoptedConsumerRoleOnlyWithConsumerRole", C,
          {"iam:GetRole": ("setup", "status", "doctor"), "iam:GetRolePolicy": POLICY_READS, "iam:PutRolePolicy": SETUP,
           "iam:DeleteRolePolicy": TEARDOWN, "iam:SimulatePrincipalPolicy": ("doctor",)},
          ("arn:{p}:iam::{consumer}:role/{app_role}",), only_with="consumer_role"),
    Grant("AdoptedConsumerUserOnlyWithConsumerUser", C,
          {"iam:GetUser": ("setup", "status", "doctor"), "iam:GetUserPolicy": POLICY_READS, "iam:PutUserPolicy": SETUP,
           "iam:DeleteUserPolicy": TEARDOWN, "iam:SimulatePrincipalPolicy": ("doctor",)},
          ("arn:{p}:iam::{consumer}:user/{app_user}",), only_with="consumer_user"),
)


def _fill(value: Any, fields: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**fields)
    if isinstance(value, dict):
        return {_fill(k, fields): _fill(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, fields) for v in value]
    return value


def _one_or_list(items: list[str]) -> str | list[str]:
    return items[0] if len(items) == 1 else items


def applies(grant: Grant, scope: Scope, include_optional: bool = False) -> bool:
    return include_optional or not grant.only_with or bool(getattr(scope, grant.only_with))


def statement(grant: Grant, scope: Scope, command: str = "all") -> dict | None:
    actions = sorted(a for a, cmds in grant.actions.items() if needed_by(cmds, command))
    if not actions:
        return None
    fields = scope.fields()
    st: dict = {"Sid": grant.sid, "Effect": "Allow", "Action": _one_or_list(actions),
                "Resource": _one_or_list([_fill(r, fields) for r in grant.resources])}
    if grant.condition:
        st["Condition"] = _fill(grant.condition, fields)
    return st


def policy(side: Account | str, command: str = "all", scope: Scope | None = None) -> dict:
    """The identity policy one profile needs for `command` (one of COMMANDS, or "all")."""
    side, scope = Account(side), scope or Scope()
    if command != "all" and command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    statements = [statement(g, scope, command) for g in GRANTS if g.side is side and applies(g, scope)]
    return {"Version": VERSION, "Statement": [s for s in statements if s is not None]}


def allowed_actions(side: Account | str, command: str = "all", scope: Scope | None = None) -> set[str]:
    actions: set[str] = set()
    for st in policy(side, command, scope)["Statement"]:
        actions.update([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    return actions


def star_actions() -> list[tuple[str, str]]:
    """(action, why) for every action granted on "*"."""
    return [(a, g.why_star) for g in GRANTS if g.resources == ("*",) for a in sorted(g.actions)]


def policy_for_cli(side: str, command: str, *, name: str = "*", region: str | None = None, **scope: Any) -> dict:
    """`xacct permissions`: the options checked, then policy()."""
    from xacct_dataapi.config import NAME_RE, REGION_RE
    from xacct_dataapi.context import partition_for_region
    from xacct_dataapi.errors import UsageError

    if side not in ("provider", "consumer"):
        raise UsageError(f"--side {side!r} is not supported.", "Use --side provider or --side consumer.")
    if command != "all" and command not in COMMANDS:
        raise UsageError(f"--for {command!r} is not supported.", f"Use --for {'|'.join(COMMANDS)}|all.")
    if name != "*" and not NAME_RE.match(name):
        raise UsageError(f"--name {name!r} is not a valid deployment name.", "Use the --name given to setup.")
    if region is not None and not REGION_RE.match(region):
        raise UsageError(f"--region {region!r} is not an AWS region name.", "Use a region code such as us-west-2.")
    filled = Scope(name=name, **({"region": region, "partition": partition_for_region(region)} if region else {}),
                   **{k: v for k, v in scope.items() if v is not None})
    return policy(side, command, filled)


def cli_note(doc: dict) -> str:
    stars = sorted({a for s in doc["Statement"] if s["Resource"] == "*"
                    for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])})
    if not doc["Statement"]:
        return "This command needs no permission on this side (sts:GetCallerIdentity needs none)."
    return ("Placeholders in capitals are yours to fill (or pass --region, --provider-account, ...). "
            + (f"On \"*\" only because they take no resource type: {', '.join(stars)} (docs/permissions.md)."
               if stars else ""))


# --- docs/permissions.md ------------------------------------------------------------------------------------

def _json(doc: Any) -> str:
    return json.dumps(doc, indent=2)


def _calls_table(side: Account) -> list[str]:
    rows = ["| command | IAM actions (`*` marks an action checked alongside another call, never called itself) |",
            "|---|---|"]
    for command in COMMANDS:
        acts = set()
        for g in GRANTS:
            if g.side is side and not g.only_with:
                acts.update(f"`{a}`" + ("*" if a in g.implied else "") for a, cmds in g.actions.items() if needed_by(cmds, command))
        rows.append(f"| `{command}` | {', '.join(sorted(acts)) or 'none (only `sts:GetCallerIdentity`, which needs no permission)'} |")
    return rows


def markdown() -> str:
    """docs/permissions.md, entirely generated (`python -m xacct_dataapi.permissions > docs/permissions.md`)."""
    lines = [
        "# Permissions",
        "",
        "<!-- Generated by `python -m xacct_dataapi.permissions` from xacct_dataapi/permissions.py. Do not edit:",
        "     tests/security/test_permissions.py fails when this file and the code differ. -->",
        "",
        "What the operator's two AWS profiles need, generated from the table of calls in",
        "`xacct_dataapi/permissions.py` (every AWS action the code calls with those profiles, the commands that call",
        "it, and the resources it touches). Print the policy for one profile and one command with",
        "",
        "```",
        "xacct permissions --side provider|consumer [--for setup|status|teardown|verify|doctor|all] [--output json]",
        "                  [--name NAME] [--region R] [--provider-account ID] [--consumer-account ID] [--cluster ID] [--vpc ID]",
        "```",
        "",
        "`--name` confines the policy to one deployment (its names, and its `xacct:deployment` tag instead of",
        "`xacct:managed-by`). How the table is kept honest: `tests/security/test_permissions_moto.py` runs `setup`,",
        "`status`, `verify`, `teardown` and a teardown without a state file through moto with a botocore `before-call`",
        "recorder, and fails on any call whose IAM action is not in the generated policy for that command.",
        "Resources and conditions: `tests/sandbox_authz/test_least_privilege.py` runs setup, a re-run, status, verify,",
        "doctor, joining and leaving a shared endpoint and a teardown by tag as operators whose only policy is exactly",
        "`xacct permissions --for COMMAND --name NAME`, in the sandbox, which evaluates resources, tags and condition",
        "keys as AWS does (docs/sandbox.md). Check them with IAM Access Analyzer's `validate-policy` before relying on",
        "them in your accounts. The policies xacct **writes** are in how-it-works.md (steps 2, 4, 5, 6, 7).",
        "",
        "`sts:GetCallerIdentity`, which xacct calls first on both profiles, needs no permission: AWS allows it to",
        "every authenticated principal.",
        "",
        "## What each command calls",
        "",
        "`doctor` covers read calls only: Describe/Get/List (and `tag:GetResources` to find a deployment without its",
        "state file) plus `iam:SimulatePrincipalPolicy` on the deployment's principals. It does not grant `secretsmanager:GetSecretValue`:",
        "the secret's Deny refuses it to the operator anyway unless the operator's role is a `--secret-reader`.",
        "",
    ]
    for side in (P, C):
        lines += [f"### {side.value.title()} profile", "", *_calls_table(side), ""]
    lines += [
        "A **read-only** profile (`status`, `setup --dry-run`) needs only `--for status`: Describe, Get and List calls,",
        "plus `tag:GetResources`; none of them reads the secret's value.",
        "",
        "## Actions that only take `\"Resource\": \"*\"`",
        "",
        "| action | why |",
        "|---|---|",
        *[f"| `{a}` | {why} |" for a, why in star_actions()],
        "",
        "Everything else is scoped to xacct's names or tags:",
        "",
        "| resource | pattern |",
        "|---|---|",
        "| cluster | `arn:aws:rds:REGION:PROVIDER:cluster:CLUSTER_ID` |",
        "| KMS keys | `arn:aws:kms:REGION:PROVIDER:key/*`: key ids are random, so changes are limited to keys tagged "
        "`xacct:managed-by=xacct`; reads stay unconditioned because xacct must look at whatever key the alias points at. |",
        "| KMS alias | `arn:aws:kms:REGION:PROVIDER:alias/xacct-*` |",
        "| secret | `arn:aws:secretsmanager:REGION:PROVIDER:secret:xacct-*/db-credentials-??????` (AWS adds 6 random "
        "characters) and the bare name: `DescribeSecret` by name before the secret exists is checked against the bare "
        "name, and without it \"not found\" becomes `AccessDeniedException` |",
        "| access role | `arn:aws:iam::PROVIDER:role/xacct/REGION/CLUSTER_ID/xacct-*-data-api-access` (a role's ARN "
        "includes its path), and `arn:aws:iam::PROVIDER:role/xacct-*-data-api-access` for a role made before the path, "
        "which setup replaces and teardown deletes. Teardown's check for other deployments on the cluster is one "
        "`ListRoles` under the cluster's path (and one of the account for roles left at `/`): no permission on the "
        "other deployments' roles, also with `--name`. |",
        "| consumer user | `arn:aws:iam::CONSUMER:user/xacct-*-data-api-client` |",
        "| security group, endpoint | created only with the tag (`aws:RequestTag`), tagged only at creation "
        "(`ec2:CreateAction`), changed or deleted only when tagged (`aws:ResourceTag`) |",
        "",
        "For China or GovCloud, `--region` sets the partition (`arn:aws-cn:`, `arn:aws-us-gov:`).",
        "",
    ]
    for side in (P, C):
        lines += [f"## {side.value.title()} profile policy (`xacct permissions --side {side.value}`)", "", "```json",
                  _json(policy(side)), "```", ""]
    lines += ["With `--consumer-role` / `--consumer-user` (an adopted principal, not in the tables above), add the matching statement",
              "(`xacct permissions --side consumer --consumer-role APP_ROLE` includes it):", ""]
    for g in GRANTS:
        if g.only_with:
            lines += ["```json", _json(statement(g, Scope())), "```", ""]
    lines += ["## Sources", "",
              "IAM service authorization reference (actions, resource types, condition keys):", "",
              *[f"- `{prefix}`: {url}" for prefix, url in SOURCES.items()],
              "- `sts:GetCallerIdentity` needs no permission: "
              "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html",
              "- Secrets Manager with a customer-managed key needs `kms:GenerateDataKey` and `kms:Decrypt` for the caller: "
              "https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html",
              "- Tag-on-create needs the Tag action too (`kms:TagResource`, `iam:TagRole`, `ec2:CreateTags` with "
              "`ec2:CreateAction`): https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
              ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
