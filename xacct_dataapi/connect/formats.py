"""What `xacct connect --format` prints: the text summary, an AWS config profile, shell exports, Python and
SQLAlchemy snippets, JSON. Pure: from a checked HandOff only (no secret value, no AWS call)."""
from __future__ import annotations

import json
import shlex
import textwrap
from dataclasses import asdict

from xacct_dataapi.connect.handoff import HandOff, Source
from xacct_dataapi.connect.profile_file import MARKER
from xacct_dataapi.vantage import in_sandbox

FORMATS = ("text", "profile", "env", "python", "sqlalchemy", "json")
WIDTH = 80  # the text format is read in a terminal


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
# Needs: pip install boto3 aurora-data-api (not among xacct's own dependencies)
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
# Needs: pip install boto3 sqlalchemy sqlalchemy-aurora-data-api (not among xacct's own dependencies)
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
