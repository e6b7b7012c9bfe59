"""What the operator asked for, validated, and the deterministic names derived from it. Pure."""
from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from xacct_dataapi.db_options import db_user_problems
from xacct_dataapi.errors import UsageError

NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?\Z")
SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}\Z")
VPC_RE = re.compile(r"^vpc-[0-9a-f]{8,17}\Z")
CLUSTER_ARN_RE = re.compile(r"^arn:aws[a-z-]*:rds:([a-z0-9-]+):(\d{12}):cluster:([A-Za-z][A-Za-z0-9-]{0,62})\Z")
CLUSTER_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}\Z")
DB_USER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}\Z")
# IAM names: ASCII letters and digits with +=,.@_- (IAM API reference, CreateRole RoleName): \w alone admits Unicode.
IAM_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}\Z", re.ASCII)
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}\Z")
PRINCIPAL_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(?:role|user)/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}\Z",
                              re.ASCII)
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]{1,64})\Z", re.ASCII)
# STS AssumeRole ExternalId: 2-1224 characters of [\w+=,.@:/-] (STS API reference, AssumeRole, ExternalId).
EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}\Z", re.ASCII)
SECRET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]{1,512}\Z", re.ASCII)

TAG_DEPLOYMENT = "xacct:deployment"
TAG_MANAGED = "xacct:managed-by"


def new_external_id() -> str:
    """A new external id for the access role's trust policy: not a secret (AWS: it guards against the confused deputy),
    but unguessable, and recorded."""
    return f"xacct-{secrets.token_hex(16)}"


def state_dir(base: Path | None = None) -> Path:
    """Where deployments' state files live: .xacct/ in the working directory."""
    return (base or Path.cwd()) / ".xacct"


def state_path_for(name: str, base: Path | None = None) -> Path:
    return state_dir(base) / f"{name}.json"


def validate_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise UsageError(
            f"--name {name!r} is not a valid deployment name.",
            "Use 1-32 letters, digits or '-', starting and ending with a letter or digit, e.g. --name orders-prod.",
        )
    return name


def _ipv4(cidr: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(cidr, strict=True)
    except ValueError:
        return None


@dataclass(frozen=True)
class Names:
    """Every name xacct gives a resource, derived from the deployment name alone, so a re-run finds them."""

    deployment: str

    @property
    def prefix(self) -> str:
        return f"xacct-{self.deployment}"

    @property
    def key_alias(self) -> str:
        return f"alias/{self.prefix}"

    def owns_alias(self, alias: str) -> bool:
        """The deployment's alias namespace: `alias/xacct-<name>` itself, or any alias under `alias/xacct-<name>/`.
        A deployment name holds no '/' (NAME_RE), so deployment `orders` never claims `orders-x`'s aliases.
        KMS alias names: 1-256 characters of [A-Za-z0-9/_-], `alias/aws/` reserved (docs/aws-facts.md)."""
        return alias == self.key_alias or alias.startswith(self.key_alias + "/")

    @property
    def secret(self) -> str:
        return f"{self.prefix}/db-credentials"

    @property
    def access_role(self) -> str:
        return f"{self.prefix}-data-api-access"

    @staticmethod
    def deployment_of_access_role(role_name: str) -> str | None:
        """The deployment an access role is named for (the inverse of access_role), or None for another name."""
        return Names._deployment_named(role_name, "access_role", "-data-api-access")

    @staticmethod
    def deployment_of_consumer_user(user_name: str) -> str | None:
        """The deployment a consumer user is named for (the inverse of consumer_user), or None for another name."""
        return Names._deployment_named(user_name, "consumer_user", "-data-api-client")

    @staticmethod
    def _deployment_named(name: str, attribute: str, tail: str) -> str | None:
        head = "xacct-"
        deployment = name[len(head):-len(tail)] if name.startswith(head) and name.endswith(tail) else ""
        return deployment if deployment and getattr(Names(deployment), attribute) == name else None

    @staticmethod
    def access_role_path(cluster_id: str, region: str) -> str:
        """The IAM path of every deployment's access role on one cluster: `/xacct/<region>/<cluster-id>/`. Another
        deployment on the cluster is then a role under this path, one ListRoles(PathPrefix) away, however many
        deployments the account holds. The region is part of it because IAM is global and cluster ids are not.

        IAM API reference, CreateRole `Path` and ListRoles `PathPrefix`: 1-512 characters, beginning and ending with
        `/`, characters \\u0021-\\u007E (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html,
        https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListRoles.html). A cluster id is at most 63 letters,
        digits and hyphens (RDS stores it in lowercase) and a region is a code like eu-west-1, so the path is short
        and within those characters."""
        return f"/xacct/{region}/{cluster_id.lower()}/"

    @property
    def access_role_policy(self) -> str:
        return f"{self.prefix}-data-api"

    @property
    def consumer_user(self) -> str:
        return f"{self.prefix}-data-api-client"

    @property
    def consumer_policy(self) -> str:
        return f"{self.prefix}-assume-data-api-access"

    @property
    def security_group(self) -> str:
        return f"{self.prefix}-rds-data-endpoint"

    @property
    def endpoint(self) -> str:
        return f"{self.prefix}-rds-data"

    def tags(self) -> dict[str, str]:
        return {TAG_DEPLOYMENT: self.deployment, TAG_MANAGED: "xacct"}


@dataclass(frozen=True)
class Config:
    """Validated setup inputs. Account ids and cluster facts are filled in from AWS later (Context)."""

    name: str
    consumer_profile: str | None
    provider_profile: str | None
    cluster: str  # id or ARN as given
    vpc_id: str
    subnet_ids: tuple[str, ...]
    region: str | None = None
    db_user: str = "app_user"
    db_name: str | None = None
    consumer_role: str | None = None  # name or ARN of an existing role to adopt
    consumer_user: str | None = None  # name of an existing user to adopt
    enable_data_api: bool = False
    key_deletion_days: int = 7
    endpoint_policy: str = "restricted"  # or "full": AWS's default policy on the endpoint
    rotate_password: bool = False  # write the secret again with a new password
    secret_readers: tuple[str, ...] = ()  # role/user ARNs exempt from the secret policy's Deny
    client_cidrs: tuple[str, ...] = ()  # clients outside the VPC's own blocks (peered VPCs, on premises)
    require_private_path: bool = False  # the access role runs statements only through the deployment's endpoint
    # --create-db-user (steps/db_user.py): xacct makes the DB user, its password and its grants.
    create_db_user: bool = False
    db_access: str | None = None  # read | write, on db_schema
    db_schema: str | None = None
    db_grants: tuple[str, ...] = ()
    admin_secret: str | None = None  # default: the cluster's RDS-managed master user secret
    rotate_db_password: bool = False  # `xacct rotate`: one run, never recorded

    @property
    def names(self) -> Names:
        return Names(self.name)

    @property
    def cluster_id(self) -> str:
        m = CLUSTER_ARN_RE.match(self.cluster)
        return m.group(3) if m else self.cluster

    def validate(self) -> "Config":
        """Every bad input at once (one UsageError listing them all), so a dry run shows everything to fix."""
        problems: list[UsageError] = []
        fail = problems.append
        try:
            validate_name(self.name)
        except UsageError as exc:
            fail(exc)
        if not (CLUSTER_ARN_RE.match(self.cluster) or CLUSTER_ID_RE.match(self.cluster)):
            fail(UsageError(
                f"--cluster {self.cluster!r} is neither an Aurora cluster identifier nor a cluster ARN.",
                "Pass the DB cluster identifier (e.g. --cluster orders-aurora) or its ARN "
                "(arn:aws:rds:REGION:ACCOUNT:cluster:ID).",
            ))
        if self.region is not None and not REGION_RE.match(self.region):
            fail(UsageError(f"--region {self.region!r} is not an AWS region name.", "Use a region code such as us-west-2 or eu-west-1."))
        if not VPC_RE.match(self.vpc_id or ""):
            fail(UsageError(f"--vpc {self.vpc_id!r} is not a VPC id.", "Pass the consumer VPC id, e.g. --vpc vpc-0abc1234."))
        if not self.subnet_ids:
            fail(UsageError(
                "--subnets is empty.",
                "Pass at least one consumer subnet id for the endpoint, comma-separated: --subnets subnet-aaa,subnet-bbb "
                "(one per Availability Zone).",
            ))
        for s in self.subnet_ids:
            if not SUBNET_RE.match(s):
                fail(UsageError(f"--subnets value {s!r} is not a subnet id.", "Use ids like subnet-0abc1234, comma-separated."))
        if len(set(self.subnet_ids)) != len(self.subnet_ids):
            twice = sorted({s for s in self.subnet_ids if self.subnet_ids.count(s) > 1})
            fail(UsageError(f"--subnets lists {', '.join(twice)} more than once.", "List each subnet once."))
        if not DB_USER_RE.match(self.db_user or ""):
            fail(UsageError(f"--db-user {self.db_user!r} is not a valid database user name.", "Use letters, digits and '_'."))
        if self.db_name is not None and not DB_USER_RE.match(self.db_name):
            fail(UsageError(f"--db-name {self.db_name!r} is not a valid database name.", "Use letters, digits and '_'."))
        if self.consumer_role and self.consumer_user:
            fail(UsageError(
                "--consumer-role and --consumer-user were both given.",
                "Pass one: the existing role or the existing user the application runs as (or neither, to create a user).",
            ))
        if self.consumer_role and not (ROLE_ARN_RE.match(self.consumer_role) or IAM_NAME_RE.match(self.consumer_role)):
            fail(UsageError(f"--consumer-role {self.consumer_role!r} is not a role name or role ARN.", "Pass e.g. --consumer-role orders-app."))
        if self.consumer_user and not IAM_NAME_RE.match(self.consumer_user):
            fail(UsageError(f"--consumer-user {self.consumer_user!r} is not an IAM user name.", "Pass e.g. --consumer-user orders-app."))
        if self.endpoint_policy not in ("restricted", "full"):
            fail(UsageError(f"--endpoint-policy {self.endpoint_policy!r} is not supported.",
                             "Use --endpoint-policy restricted (only the access role, only this cluster) or full."))
        for reader in self.secret_readers:
            if not PRINCIPAL_ARN_RE.match(reader or ""):
                fail(UsageError(f"--secret-reader {reader!r} is not an IAM role or user ARN.",
                                 "Pass the ARN of a role or user that must read the secret, e.g. "
                                 "--secret-reader arn:aws:iam::222222222222:role/rotation-lambda."))
        if len(set(self.secret_readers)) != len(self.secret_readers):
            fail(UsageError("--secret-reader lists the same ARN more than once.", "List each reader once."))
        for cidr in self.client_cidrs:
            try:
                network = ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                fail(UsageError(f"--client-cidr {cidr!r} is not an IPv4 network in CIDR form.",
                                 "Pass e.g. --client-cidr 10.40.0.0/16 (the network address, then the prefix length)."))
                continue
            if network.prefixlen == 0:
                fail(UsageError(f"--client-cidr {cidr} admits the whole internet.",
                                 "Pass the networks the application's calls come from (a peered VPC, an on-premises range)."))
        valid = [n for n in (_ipv4(c) for c in self.client_cidrs) if n is not None and n.prefixlen > 0]
        if valid and list(ipaddress.collapse_addresses(valid)) == [ipaddress.IPv4Network("0.0.0.0/0")]:
            fail(UsageError(f"--client-cidr {' '.join(self.client_cidrs)}: together these admit the whole internet, "
                             "like 0.0.0.0/0.",
                             "Pass the networks the application's calls come from (a peered VPC, an on-premises range)."))
        problems += db_user_problems(self)  # the --create-db-user options' own rules
        if not 7 <= self.key_deletion_days <= 30:
            fail(UsageError(f"--key-deletion-days {self.key_deletion_days} is out of range.", "AWS accepts 7 to 30 days."))
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise UsageError(f"{len(problems)} problems with the input:\n" + "\n".join(f"- {p}" for p in problems),
                             "Fix them all, then re-run.")
        return self

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "cluster": self.cluster,
            "vpc_id": self.vpc_id,
            "subnet_ids": list(self.subnet_ids),
            "region": self.region,
            "db_user": self.db_user,
            "db_name": self.db_name,
            "consumer_role": self.consumer_role,
            "consumer_user": self.consumer_user,
            "enable_data_api": self.enable_data_api,
            "endpoint_policy": self.endpoint_policy,
            "key_deletion_days": self.key_deletion_days,
            "secret_readers": list(self.secret_readers),
            "client_cidrs": list(self.client_cidrs),
            "require_private_path": self.require_private_path,
            **({"create_db_user": True, "db_access": self.db_access, "db_schema": self.db_schema,
                "db_grants": list(self.db_grants), "admin_secret": self.admin_secret} if self.create_db_user else {}),
        }

    @classmethod
    def from_json(cls, data: dict, *, consumer_profile: str | None, provider_profile: str | None,
                  region: str | None) -> Config:
        """The configuration recorded by setup (`to_json`, kept in the state file), with today's profiles and region.

        Profiles are not recorded in the configuration, and the region is the one the sessions resolved. A one-time
        choice such as --rotate-password is not recorded, so it comes back off; keys other than to_json's are ignored."""
        return cls(
            name=data["name"],
            consumer_profile=consumer_profile,
            provider_profile=provider_profile,
            cluster=data["cluster"],
            vpc_id=data["vpc_id"],
            subnet_ids=tuple(data["subnet_ids"]),
            region=region,
            db_user=data.get("db_user") or cls.db_user,
            db_name=data.get("db_name"),
            consumer_role=data.get("consumer_role"),
            consumer_user=data.get("consumer_user"),
            enable_data_api=bool(data.get("enable_data_api")),
            key_deletion_days=int(data.get("key_deletion_days") or cls.key_deletion_days),
            endpoint_policy=data.get("endpoint_policy") or cls.endpoint_policy,
            secret_readers=tuple(data.get("secret_readers") or ()),
            client_cidrs=tuple(data.get("client_cidrs") or ()),
            require_private_path=bool(data.get("require_private_path")),
            create_db_user=bool(data.get("create_db_user")), db_access=data.get("db_access"),
            db_schema=data.get("db_schema"), db_grants=tuple(data.get("db_grants") or ()),
            admin_secret=data.get("admin_secret"),
        )
