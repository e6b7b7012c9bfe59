"""The IAM permissions the operator's own profiles need, generated from the grants the code declares.

Every AWS action xacct's code calls with the operator's profiles is declared once, next to the code that calls it
(each resource_types module's GRANTS, and preflight's; resource_types/grants.py is their vocabulary), with the commands
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

from xacct_dataapi import preflight, resource_types
from xacct_dataapi.commands import refresh  # list --refresh's reads
from xacct_dataapi.config import NAME_RE, REGION_RE, ROLE_ARN_RE, SECRET_ARN_RE, TAG_DEPLOYMENT, TAG_MANAGED, VPC_RE
from xacct_dataapi.context import partition_for_region
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Account
from xacct_dataapi.resource_types.grants import C, Grant, P

VERSION = "2012-10-17"
COMMANDS = ("setup", "status", "teardown", "verify", "doctor", "list")

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
    vpc: str = "VPC_ID"  # one VPC id, or several joined by commas (a move's old and new VPC)
    name: str = "*"
    consumer_role: str | None = None  # an adopted role (--consumer-role): its statement is added
    consumer_user: str | None = None  # an adopted user (--consumer-user)
    create_db_user: bool = False  # --create-db-user: the rotation protocol and SQL as the admin
    admin_secret: str | None = None  # its admin secret (default: RDS-managed master user secrets)
    role_arn: str | None = None  # stateless doctor of a chain xacct did not make: its role (--role-arn)
    secret_arn: str | None = None  # and its secret (--secret-arn)

    def vpcs(self) -> tuple[str, ...]:
        return tuple(v for v in self.vpc.split(",") if v) or ("VPC_ID",)

    def fields(self) -> dict[str, str]:
        tag_key, tag_value = (TAG_MANAGED, "xacct") if self.name == "*" else (TAG_DEPLOYMENT, self.name)
        # RDS stores cluster ids in lowercase, in its ARNs and in the access role's path (Names.access_role_path).
        cluster = self.cluster if self.cluster == "CLUSTER_ID" else self.cluster.lower()
        return {"p": self.partition, "region": self.region, "provider": self.provider, "consumer": self.consumer,
                "cluster": cluster, "vpc": self.vpc, "name": self.name, "tag_key": tag_key, "tag_value": tag_value,
                "app_role": self.consumer_role or "APP_ROLE", "app_user": self.consumer_user or "APP_USER",
                "chain_role": self.role_arn or "ROLE_ARN", "chain_secret": self.secret_arn or "SECRET_ARN",
                "admin_secret": self.admin_secret or "arn:{p}:secretsmanager:{region}:{provider}:secret:rds!cluster-*"
                .format(p=self.partition, region=self.region, provider=self.provider)}


# Every statement, declared by what makes the calls: preflight's reads, then each resource type's module; the
# provider's first (the order of docs/permissions.md's tables).
def all_grants() -> tuple[Grant, ...]:
    return tuple(sorted(preflight.GRANTS + resource_types.grants() + refresh.GRANTS, key=lambda g: g.side is not P))


GRANTS = all_grants()  # as registered at import; the functions below read the registry when called


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
    # A pattern naming the VPC stands for each VPC in scope (IAM has no list inside one ARN).
    resources = [_fill(r, {**fields, "vpc": vpc}) for r in grant.resources
                 for vpc in (scope.vpcs() if "{vpc}" in r else (fields["vpc"],))]
    st: dict = {"Sid": grant.sid, "Effect": "Allow", "Action": _one_or_list(actions),
                "Resource": _one_or_list(resources)}
    if grant.condition:
        st["Condition"] = _fill(grant.condition, fields)
    return st


def policy(side: Account | str, command: str = "all", scope: Scope | None = None) -> dict:
    """The identity policy one profile needs for `command` (one of COMMANDS, or "all")."""
    side, scope = Account(side), scope or Scope()
    if command != "all" and command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    statements = [statement(g, scope, command) for g in all_grants() if g.side is side and applies(g, scope)]
    return {"Version": VERSION, "Statement": [s for s in statements if s is not None]}


def allowed_actions(side: Account | str, command: str = "all", scope: Scope | None = None) -> set[str]:
    actions: set[str] = set()
    for st in policy(side, command, scope)["Statement"]:
        actions.update([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    return actions


def star_actions() -> list[tuple[str, str]]:
    """(action, why) for every action granted on "*"."""
    return [(a, g.why_star) for g in all_grants() if g.resources == ("*",) for a in sorted(g.actions)]


def state_bucket_statements(url: str, partition: str = "aws") -> list[dict]:
    """The team state (`--state s3://BUCKET/PREFIX/`, state_s3.py) for the profile XACCT_STATE_PROFILE names: the
    state objects and their `.lock` objects under PREFIX (read, write, delete; conditional writes need no more than
    s3:PutObject, a HEAD is s3:GetObject), and listing the bucket only under PREFIX (`s3:prefix`)."""
    from xacct_dataapi.state_s3 import S3Location

    if url.startswith("s3://") and not url.endswith(("/", ".json")):
        url += "/"  # s3://B/team names the folder team/, not the bucket's root
    loc = S3Location.parse(url).folder if url.startswith("s3://") else None
    if loc is None or any(c in loc.bucket + loc.key for c in "*?$"):
        raise UsageError(f"--state-bucket {url!r} is not a team state location.",
                         "Use the --state value: s3://BUCKET/PREFIX/ (no wildcards).")
    if not loc.key:
        raise UsageError(f"--state-bucket {url!r} is the bucket's root: the statements would cover every object in "
                         f"bucket {loc.bucket}.", f"Keep team state under a prefix: s3://{loc.bucket}/xacct/.")
    bucket = f"arn:{partition}:s3:::{loc.bucket}"
    listing: dict = {"Sid": "TeamStateList", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket}
    if loc.key:
        listing["Condition"] = {"StringLike": {"s3:prefix": f"{loc.key}*"}}
    return [{"Sid": "TeamStateObjects", "Effect": "Allow", "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
             "Resource": f"{bucket}/{loc.key}*"}, listing]


_FLAGS = {"provider": "--provider-account", "consumer": "--consumer-account"}  # the scope keys named otherwise


def policy_for_cli(side: str, command: str, *, name: str = "*", region: str | None = None,
                   state_bucket: str | None = None, **scope: Any) -> dict:
    """`xacct permissions`: the options checked, then policy() (and the team state's statements, `state_bucket`)."""
    if side not in ("provider", "consumer"):
        raise UsageError(f"--side {side!r} is not supported.", "Use --side provider or --side consumer.")
    if command != "all" and command not in COMMANDS:
        raise UsageError(f"--for {command!r} is not supported.", f"Use --for {'|'.join(COMMANDS)}|all.")
    if name != "*" and not NAME_RE.match(name):
        raise UsageError(f"--name {name!r} is not a valid deployment name.", "Use the --name given to setup.")
    if region is not None and not REGION_RE.match(region):
        raise UsageError(f"--region {region!r} is not an AWS region name.", "Use a region code such as us-west-2.")
    for option, value, syntax, example in (
            ("--role-arn", scope.get("role_arn"), ROLE_ARN_RE, "arn:aws:iam::PROVIDER:role/NAME"),
            ("--secret-arn", scope.get("secret_arn"), SECRET_ARN_RE,
             "arn:aws:secretsmanager:REGION:PROVIDER:secret:NAME-AbCdEf")):
        if value is not None and not syntax.match(value):
            raise UsageError(f"{option} {value!r} is not an ARN of that kind.", f"Give the full ARN, e.g. {example}.")
    vpcs = str(scope.get("vpc") or "VPC_ID").split(",")
    if scope.get("vpc") not in (None, "VPC_ID") and not all(VPC_RE.match(v) for v in vpcs):
        bad = next((v for v in vpcs if not VPC_RE.match(v)), scope.get("vpc"))
        raise UsageError(f"--vpc {scope.get('vpc')!r}: {bad!r} is not a VPC id.",
                         "Give vpc-0123456789abcdef0, or several joined by commas for a move (old,new).")
    for key, value in scope.items():  # each lands in a statement's Resource, where these are IAM's wildcards
        if isinstance(value, str) and any(c in value for c in "*?$"):
            flag = _FLAGS.get(key, f"--{key.replace('_', '-')}")
            raise UsageError(f"{flag} {value!r} holds a wildcard or policy variable (* ? $): the statement would reach "
                             "every resource it matches.", f"Pass the one exact value {flag} names.")
    filled = Scope(name=name, **({"region": region, "partition": partition_for_region(region)} if region else {}),
                   **{k: v for k, v in scope.items() if v is not None})
    doc = policy(side, command, filled)
    if state_bucket:
        doc["Statement"] += state_bucket_statements(state_bucket, filled.partition)
    return doc


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
        for g in all_grants():
            if g.side is side and not g.only_with:
                acts.update(f"`{a}`" + ("*" if a in g.implied else "") for a, cmds in g.actions.items() if needed_by(cmds, command))
        rows.append(f"| `{command}` | {', '.join(sorted(acts)) or 'none (only `sts:GetCallerIdentity`, which needs no permission)'} |")
    return rows


def markdown() -> str:
    """docs/permissions.md, entirely generated (`python -m xacct_dataapi.permissions > docs/permissions.md`)."""
    lines = [
        "# Permissions",
        "",
        "<!-- Generated by `python -m xacct_dataapi.permissions` from the GRANTS of xacct_dataapi/resource_types/ and",
        "     xacct_dataapi/preflight.py. Do not edit: tests/security/test_permissions.py fails when they differ. -->",
        "",
        "What the operator's two AWS profiles need, generated from the grants declared next to the calls: each",
        "resource type's module in `xacct_dataapi/resource_types/` and `xacct_dataapi/preflight.py` (every AWS action",
        "the code calls with those profiles, the commands that call it, and the resources it touches). Print the policy",
        "for one profile and one command with",
        "",
        "```",
        "xacct permissions --side provider|consumer [--for setup|status|teardown|verify|doctor|list|all] [--output json]",
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
        "| KMS aliases | `arn:aws:kms:REGION:PROVIDER:alias/xacct-*` and `.../alias/xacct-*/*`; with `--name N`, "
        "`alias/xacct-N` and `alias/xacct-N/*` (never `alias/xacct-N*`, which would match deployment `N-x`'s) |",
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
    lines += ["With team state (`--state s3://BUCKET/PREFIX/`), the profile XACCT_STATE_PROFILE names (else the default",
              "credentials) also needs the state objects and their locks under PREFIX, and a listing of the bucket under",
              "PREFIX only: `xacct permissions --side SIDE --state-bucket s3://BUCKET/PREFIX/` adds them:", "",
              "```json", _json(state_bucket_statements("s3://BUCKET/PREFIX/")), "```", ""]
    lines += ["With `--consumer-role` / `--consumer-user` (an adopted principal, not in the tables above), with",
              "`--create-db-user` (the database user's password by the rotation protocol, SQL as the cluster's admin),",
              "or for `doctor` without a state file of a chain xacct did not make (`--role-arn`, `--secret-arn`: the",
              "role the application assumes and its secret, read and simulated, never the secret's value), add the",
              "matching statements (`xacct permissions --side consumer --consumer-role APP_ROLE`,",
              "`--side provider --create-db-user [--admin-secret ARN]`, or `--side provider --for doctor --role-arn ARN",
              "--secret-arn ARN`, includes them):", ""]
    for g in all_grants():
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
