"""`xacct connect`: hand the access to the application team, from the state file only (no AWS call).

Everything comes from what setup recorded (docs/how-it-works.md, "The hand-off"): the access role and its
external id, the cluster, the secret, the database (the secret's dbname), the engine, the region and the consumer
principal that must make the call. No secret value is ever read or printed, and no access key is created.

The `profile` format is an AWS config block that assumes the access role from a source of credentials
(`source_profile` or `credential_source`); every SDK and the AWS CLI then refresh the role's credentials by
themselves (https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html: role_arn,
external_id, role_session_name, source_profile, credential_source). `--write` merges it into the AWS config file
(AWS_CONFIG_FILE or ~/.aws/config), replacing only a section it wrote itself.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path

from xacct_dataapi.config import (
    CLUSTER_ARN_RE, DB_USER_RE, EXTERNAL_ID_RE, NAME_RE, PRINCIPAL_ARN_RE, REGION_RE, ROLE_ARN_RE, SECRET_ARN_RE,
)
from xacct_dataapi.errors import StateError, UsageError
from xacct_dataapi.state import State, atomic_write
from xacct_dataapi.vantage import in_sandbox

FORMATS = ("text", "profile", "env", "python", "sqlalchemy", "json")
# The values the AWS shared config accepts for credential_source (sdkref feature-assume-role-credentials).
CREDENTIAL_SOURCES = ("Ec2InstanceMetadata", "EcsContainer", "Environment")
PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")
WIDTH = 80  # the text format is read in a terminal
MARKER = "# managed by xacct connect, deployment "
_SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]\s*$")
ENGINES = ("aurora-postgresql", "aurora-mysql", "postgres", "mysql")
# What each handed-off value may be, as AWS allows it. The state file (and the AWS reads that filled it) is untrusted
# input: a value outside its syntax (a newline and `[profile evil]` in an external id, a quote in an ARN) could
# rewrite the AWS config or the printed code, so it is refused before anything is written or printed.
_SYNTAX = {"name": NAME_RE, "region": REGION_RE, "role_arn": ROLE_ARN_RE, "external_id": EXTERNAL_ID_RE,
           "cluster_arn": CLUSTER_ARN_RE, "secret_arn": SECRET_ARN_RE, "database": DB_USER_RE,
           "principal_arn": PRINCIPAL_ARN_RE}


def _checked(state_name: str, values: dict) -> dict:
    for key, pattern in _SYNTAX.items():
        value = values[key]
        if not isinstance(value, str) or not pattern.match(value):
            raise StateError(f"Deployment {state_name!r}: the recorded {key} {value!r} is not a valid {key} "
                             f"(pattern {pattern.pattern}); nothing was written or printed.",
                             "Someone changed the state file or the resources it was read from. Re-run `xacct setup` "
                             "to repair the deployment, then `xacct connect` again.")
    if values["engine"] not in ENGINES:
        raise StateError(f"Deployment {state_name!r}: the recorded engine {values['engine']!r} is not one of "
                         f"{', '.join(ENGINES)}; nothing was written or printed.", "Re-run `xacct setup`.")
    return values


@dataclass(frozen=True)
class HandOff:
    name: str
    region: str
    role_arn: str
    external_id: str
    cluster_arn: str
    secret_arn: str
    database: str
    engine: str
    principal_arn: str
    principal_kind: str  # "user" | "role"
    principal_created: bool  # a user xacct created (it has no access key)
    consumer_account: str
    provider_account: str
    vpc_id: str = ""
    endpoint_id: str = ""  # the VPC's rds-data interface endpoint (private DNS on)
    private_only: bool = False  # --require-private-path: rds-data only through that endpoint (aws:SourceVpce)

    @classmethod
    def from_state(cls, state: State) -> HandOff:
        v = state.values
        needed = {"access_role_arn": v.get("access_role_arn"), "external_id": v.get("external_id"),
                  "cluster_arn": v.get("cluster_arn"), "secret_arn": v.get("secret_arn"),
                  "consumer_principal_arn": v.get("consumer_principal_arn"), "region": state.region}
        missing = [k for k, value in needed.items() if not value]
        if missing:
            raise UsageError(f"Deployment {state.name!r} is not complete: the state records no {', '.join(missing)}.",
                             f"Run `xacct setup` (then `xacct status --name {state.name}`) first.")
        if not v.get("database") or not v.get("cluster_engine"):
            raise UsageError(f"The state of deployment {state.name!r} was written by an older xacct and records no "
                             "database name or engine.",
                             "Re-run the same `xacct setup` (it changes nothing in AWS and records them).")
        principal = v["consumer_principal_arn"]
        created = any(r.kind == "iam_user" and r.created for r in state.resources)
        checked = _checked(state.name, {
            "name": state.name, "region": state.region, "role_arn": v["access_role_arn"],
            "external_id": v["external_id"], "cluster_arn": v["cluster_arn"], "secret_arn": v["secret_arn"],
            "database": v["database"], "engine": v["cluster_engine"], "principal_arn": principal})
        return cls(**checked,
                   principal_kind="role" if ":role/" in principal else "user", principal_created=created,
                   consumer_account=state.accounts.get("consumer", ""),
                   provider_account=state.accounts.get("provider", ""),
                   vpc_id=str(state.config.get("vpc_id") or ""), endpoint_id=str(v.get("endpoint_id") or ""),
                   private_only=bool(state.config.get("require_private_path")))

    @property
    def dialect(self) -> str:
        return "postgresql" if "postgres" in self.engine else "mysql"

    @property
    def session_name(self) -> str:
        return f"xacct-{self.name}"[:64]


@dataclass(frozen=True)
class Source:
    """Where the profile's base credentials come from: a profile, a credential_source, or not said yet."""

    profile: str | None = None
    credential_source: str | None = None
    endpoint_url: str | None = None  # the source profile's, kept so a custom endpoint (the sandbox) still applies

    @classmethod
    def choose(cls, source_profile: str | None, credential_source: str | None) -> Source:
        if source_profile and credential_source:
            raise UsageError("--source-profile and --credential-source exclude each other.",
                             "Pass one: a profile of the consumer principal, or where its credentials come from.")
        if credential_source is not None and credential_source not in CREDENTIAL_SOURCES:
            raise UsageError(f"--credential-source {credential_source!r} is not one of {', '.join(CREDENTIAL_SOURCES)}.",
                             "Ec2InstanceMetadata: an EC2 instance profile; EcsContainer: an ECS task role; "
                             "Environment: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.")
        if source_profile:
            return cls(profile=source_profile, endpoint_url=_profile_setting(source_profile, "endpoint_url"))
        return cls(credential_source=credential_source)

    @property
    def given(self) -> bool:
        return bool(self.profile or self.credential_source)


def _profile_setting(profile: str, key: str) -> str | None:
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    try:
        return botocore.session.Session(profile=profile).get_scoped_config().get(key)
    except ProfileNotFound:
        raise UsageError(f"--source-profile {profile!r}: no such profile in the AWS config.",
                         "Check the name with `aws configure list-profiles`.") from None


def handoff_summary(state: State) -> dict | None:
    """The hand-off as `status` shows it (text and JSON), or None while the deployment is incomplete."""
    try:
        h = HandOff.from_state(state)
    except UsageError:
        return None
    return {"role_arn": h.role_arn, "external_id": h.external_id, "region": h.region, "cluster_arn": h.cluster_arn,
            "secret_arn": h.secret_arn, "database": h.database, "consumer_principal": h.principal_arn,
            "next": f"xacct connect --name {h.name}"}


def who_calls(h: HandOff) -> list[str]:
    """Which principal must make the call, and how it gets credentials (never a key printed or made here)."""
    if h.principal_kind == "role":
        return [f"Caller: the role {h.principal_arn}: the only principal the access role trusts.",
                "Run the application with that role: an EC2 instance profile (--credential-source "
                "Ec2InstanceMetadata), an ECS task role (--credential-source EcsContainer), or a profile that "
                "assumes it (--source-profile P)."]
    lines = [f"Caller: the user {h.principal_arn}: the only principal the access role trusts."]
    if h.principal_created:
        lines.append(f"xacct created it without an access key. Create one as a consumer-account admin "
                     f"(`aws iam create-access-key --user-name {h.principal_arn.rsplit('/', 1)[-1]}`), keep it in "
                     "your secret store or a credentials profile, and pass that profile as --source-profile.")
    else:
        lines.append("Give its credentials to the application as a profile and pass it as --source-profile.")
    return lines


def network_path(h: HandOff) -> str:
    """Which way the application reaches rds-data: from inside the VPC through the endpoint, or from anywhere."""
    where = f"endpoint {h.endpoint_id} in {h.vpc_id}" if h.endpoint_id else f"the rds-data endpoint in {h.vpc_id}"
    if h.private_only:
        return (f"Network path: only from inside {h.vpc_id or 'the consumer VPC'}: rds-data resolves to {where} "
                "(private DNS), and the access role allows statements only through it (aws:SourceVpce); from "
                "outside the VPC every statement is AccessDenied." + in_sandbox(h.vpc_id))
    return (f"Network path: from inside {h.vpc_id or 'the consumer VPC'} rds-data resolves to {where} (private DNS), "
            "whose policy admits only the access role on this cluster; from outside the VPC the application uses "
            "the public rds-data endpoint (allowed: the deployment was set up without --require-private-path)."
            + in_sandbox(h.vpc_id))


def profile_block(h: HandOff, source: Source, profile_name: str) -> str:
    lines = [f"[profile {profile_name}]", f"{MARKER}{h.name}",
             f"role_arn = {h.role_arn}", f"external_id = {h.external_id}", f"role_session_name = {h.session_name}",
             f"region = {h.region}"]
    if source.profile:
        lines.append(f"source_profile = {source.profile}")
    elif source.credential_source:
        lines.append(f"credential_source = {source.credential_source}")
    else:
        lines.append(f"# source_profile = <a profile whose identity is {h.principal_arn}>")
    if source.endpoint_url:
        lines.append(f"endpoint_url = {source.endpoint_url}")
    return "\n".join(lines) + "\n"


def env_lines(h: HandOff, profile_name: str) -> str:
    values = {
        "AWS_PROFILE": profile_name, "AWS_REGION": h.region,
        "XACCT_ACCESS_ROLE_ARN": h.role_arn, "XACCT_EXTERNAL_ID": h.external_id,
        "AURORA_CLUSTER_ARN": h.cluster_arn, "AURORA_SECRET_ARN": h.secret_arn, "AURORA_DATABASE": h.database,
    }
    head = (f"# AWS_PROFILE names the profile from `xacct connect --name {h.name} --format profile --write`;\n"
            "# AURORA_CLUSTER_ARN and AURORA_SECRET_ARN are read by aurora-data-api; pass AURORA_DATABASE as database=.\n")
    return head + "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())


def probe_sql(h: HandOff) -> str:
    """A statement every database user may run, whose answer says who the Data API logged in as."""
    return "SELECT current_user" if h.dialect == "postgresql" else "SELECT CURRENT_USER()"


def python_snippet(h: HandOff, profile_name: str) -> str:
    return f'''# As the consumer principal, with the profile from `xacct connect --name {h.name} --format profile --write`.
import boto3
import aurora_data_api

rds_data = boto3.Session(profile_name={profile_name!r}).client("rds-data")
with aurora_data_api.connect(
    aurora_cluster_arn={h.cluster_arn!r},
    secret_arn={h.secret_arn!r},
    database={h.database!r},  # the Data API ignores dbname in the secret
    rds_data_client=rds_data,
) as conn:
    with conn.cursor() as cursor:
        cursor.execute("{probe_sql(h)}")
        print(cursor.fetchall())
    conn.commit()  # the first cursor opened a transaction (BeginTransaction)
'''


def sqlalchemy_url(h: HandOff) -> str:
    # sqlalchemy-aurora-data-api reads only the dialect and the database from the URL; the rest goes in connect_args.
    return f"{h.dialect}+auroradataapi://:@/{h.database}"


# Printed in the MySQL snippet (the why is in the printed comment): sqlalchemy-aurora-data-api 0.5 is the current release.
_MYSQL_CHARSET_FIX = '''
# sqlalchemy-aurora-data-api 0.5 detects the charset with a plain string, which SQLAlchemy 2.x refuses
# (ObjectNotExecutableError); the Data API's MySQL connections are utf8mb4. Not needed with SQLAlchemy 1.4.
from sqlalchemy_aurora_data_api import AuroraMySQLDataAPIDialect
AuroraMySQLDataAPIDialect._detect_charset = lambda self, connection: "utf8mb4"
'''


def sqlalchemy_snippet(h: HandOff, profile_name: str) -> str:
    fix = _MYSQL_CHARSET_FIX if h.dialect == "mysql" else ""
    return f'''# As the consumer principal, with the profile from `xacct connect --name {h.name} --format profile --write`.
import boto3
from sqlalchemy import create_engine, text
{fix}
engine = create_engine(
    {sqlalchemy_url(h)!r},
    connect_args={{
        "aurora_cluster_arn": {h.cluster_arn!r},
        "secret_arn": {h.secret_arn!r},
        "rds_data_client": boto3.Session(profile_name={profile_name!r}).client("rds-data"),
    }},
)
with engine.connect() as conn:
    print(conn.execute(text("{probe_sql(h)}")).fetchall())
'''


def as_json(h: HandOff, source: Source, profile_name: str) -> dict:
    return {**asdict(h), "profile_name": profile_name, "role_session_name": h.session_name,
            "source_profile": source.profile, "credential_source": source.credential_source,
            "sqlalchemy_url": sqlalchemy_url(h), "who_calls": who_calls(h), "network_path": network_path(h)}


def text_summary(h: HandOff, source: Source, profile_name: str) -> str:
    rows = [("Access role", h.role_arn), ("External id", h.external_id), ("Region", h.region),
            ("Cluster", h.cluster_arn), ("Secret", h.secret_arn), ("Database", h.database),
            ("Engine", f"{h.engine} (SQLAlchemy {sqlalchemy_url(h)})")]
    out = [f"Deployment {h.name!r}: consumer {h.consumer_account} -> provider {h.provider_account}", ""]
    # A value that does not fit beside its label goes on its own line, whole (ARNs stay copyable).
    out += [f"{k + ':':<13}{v}" if len(v) <= WIDTH - 13 else f"{k}:\n  {v}" for k, v in rows]
    out += ["", *(_wrap(p) for p in who_calls(h)), "", _wrap(network_path(h)), "",
            _wrap("The application assumes the access role with the external id, then calls rds-data with the "
                  "cluster, the secret and the database. Next:"),
            f"  xacct connect --name {h.name} --format profile --source-profile P --write",
            f"  xacct connect --name {h.name} --format python      (or env, sqlalchemy, json)",
            f"  xacct verify --name {h.name}"]
    if source.given:
        out[-3] = f"  xacct connect --name {h.name} --format profile {_source_flag(source)} --write"
    return "\n".join(out) + "\n"


def _wrap(paragraph: str) -> str:
    return textwrap.fill(paragraph, WIDTH, break_long_words=False, break_on_hyphens=False)


def _source_flag(source: Source) -> str:
    return f"--source-profile {source.profile}" if source.profile else f"--credential-source {source.credential_source}"


def render(h: HandOff, fmt: str, source: Source, profile_name: str) -> str:
    if fmt == "profile":
        return profile_block(h, source, profile_name)
    if fmt == "env":
        return env_lines(h, profile_name)
    if fmt == "python":
        return python_snippet(h, profile_name)
    if fmt == "sqlalchemy":
        return sqlalchemy_snippet(h, profile_name)
    if fmt == "json":
        return json.dumps(as_json(h, source, profile_name), indent=2) + "\n"
    return text_summary(h, source, profile_name)


def default_profile_name(h: HandOff, given: str | None) -> str:
    name = given or f"xacct-{h.name}"
    if not PROFILE_NAME_RE.match(name):
        raise UsageError(f"--profile-name {name!r} is not a usable profile name.", "Use letters, digits and -_.+ only.")
    return name


# ----------------------------------------------------------------------------------------------- --write


def config_path() -> Path:
    """The AWS config file every SDK reads: AWS_CONFIG_FILE, else ~/.aws/config."""
    return Path(os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"))


def _sections(text: str) -> list[tuple[str | None, list[str]]]:
    """The file as (header name, lines) in order; lines before the first header have the name None."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines(keepends=True):
        m = _SECTION_RE.match(line)
        if m:
            sections.append((" ".join(m.group(1).split()), [line]))
        else:
            sections[-1][1].append(line)
    return sections


def merge_profile(text: str, block: str, profile_name: str, deployment: str) -> str:
    """`text` with the section `[profile NAME]` replaced by `block` (or `block` appended). Refuses (exit 2) to
    replace a section that xacct connect did not write for this deployment."""
    header = f"profile {profile_name}"
    sections = _sections(text)
    found = [i for i, (name, _) in enumerate(sections) if name == header]
    if not found:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        return text + sep + block
    for i in found:
        if f"{MARKER}{deployment}\n" not in "".join(sections[i][1]):
            raise UsageError(f"The AWS config already has a section [{header}] that xacct connect did not write for "
                             f"deployment {deployment!r}; it was left untouched.",
                             "Pass another --profile-name, or remove that section yourself.")
    out: list[str] = []
    for i, (_, lines) in enumerate(sections):
        if i == found[0]:
            trailing = "\n" if i != len(sections) - 1 else ""
            out.append(block + trailing)
        elif i not in found:
            out.extend(lines)
    return "".join(out)


def write_profile(block: str, profile_name: str, deployment: str, path: Path | None = None) -> tuple[Path, bool]:
    """Merge the block into the AWS config file; keep the previous file as <file>.xacct-backup.
    Returns (path, changed). Idempotent: the same block twice changes nothing the second time."""
    path = path or config_path()
    old = path.read_text() if path.exists() else ""
    new = merge_profile(old, block, profile_name, deployment)
    if new == old:
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    if path.exists():
        shutil.copy2(path, path.with_name(path.name + ".xacct-backup"))
    atomic_write(path, new.encode(), mode=mode)
    return path, True


def remove_profiles(deployment: str, path: Path | None = None) -> list[str]:
    """After a teardown: remove the sections `connect --write` added for this deployment (its marker line names the
    deployment; nothing else is touched), keeping the previous file as <file>.xacct-backup. Returns their names."""
    path = path or config_path()
    if not path.exists():
        return []
    old = path.read_text()
    sections = _sections(old)
    ours = [i for i, (name, lines) in enumerate(sections)
            if name is not None and any(line.rstrip("\n") == f"{MARKER}{deployment}" for line in lines)]
    if not ours:
        return []
    new = "".join(line for i, (_, lines) in enumerate(sections) if i not in ours for line in lines)
    shutil.copy2(path, path.with_name(path.name + ".xacct-backup"))
    atomic_write(path, new.encode(), mode=path.stat().st_mode & 0o777)
    return [f"[{sections[i][0]}]" for i in ours]
