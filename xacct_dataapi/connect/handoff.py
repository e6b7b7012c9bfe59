"""The hand-off's values, read from the state file and checked against AWS's syntax for each before any use.

The state file (and the AWS reads that filled it) is untrusted input: a value outside its syntax (a newline and
`[profile evil]` in an external id, a quote in an ARN) could rewrite the AWS config or the printed code, so it is
refused before anything is written or printed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from xacct_dataapi.config import (
    CLUSTER_ARN_RE, DB_USER_RE, EXTERNAL_ID_RE, NAME_RE, PRINCIPAL_ARN_RE, REGION_RE, ROLE_ARN_RE, SECRET_ARN_RE,
    VPC_RE,
)
from xacct_dataapi.errors import StateError, UsageError
from xacct_dataapi.state import State

# The values the AWS shared config accepts for credential_source (sdkref feature-assume-role-credentials).
CREDENTIAL_SOURCES = ("Ec2InstanceMetadata", "EcsContainer", "Environment")
PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9_.+-]{1,64}\Z")
ENGINES = ("aurora-postgresql", "aurora-mysql", "postgres", "mysql")
# What each handed-off value may be, as AWS allows it.
_SYNTAX = {"name": NAME_RE, "region": REGION_RE, "role_arn": ROLE_ARN_RE, "external_id": EXTERNAL_ID_RE,
           "cluster_arn": CLUSTER_ARN_RE, "secret_arn": SECRET_ARN_RE, "database": DB_USER_RE,
           "principal_arn": PRINCIPAL_ARN_RE}
# Printed only (text, json), and may be empty; still never a newline or a quote.
_OPTIONAL_SYNTAX = {"vpc_id": VPC_RE, "endpoint_id": re.compile(r"^vpce-[0-9a-f]{8,17}\Z"),
                    "consumer_account": re.compile(r"^\d{12}\Z"), "provider_account": re.compile(r"^\d{12}\Z")}


def _checked(state_name: str, values: dict) -> dict:
    syntax = {**_SYNTAX, **{k: p for k, p in _OPTIONAL_SYNTAX.items() if values.get(k)}}
    for key, pattern in syntax.items():
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
            "database": v["database"], "engine": v["cluster_engine"], "principal_arn": principal,
            "consumer_account": state.accounts.get("consumer") or "",
            "provider_account": state.accounts.get("provider") or "",
            "vpc_id": state.config.get("vpc_id") or "", "endpoint_id": v.get("endpoint_id") or ""})
        return cls(**checked, principal_kind="role" if ":role/" in principal else "user", principal_created=created,
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
        if source_profile and not PROFILE_NAME_RE.match(source_profile):  # it is written into the AWS config
            raise UsageError(f"--source-profile {source_profile!r} is not a usable profile name.",
                             "Use letters, digits and -_.+ only.")
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


def default_profile_name(h: HandOff, given: str | None) -> str:
    name = given or f"xacct-{h.name}"
    if not PROFILE_NAME_RE.match(name):
        raise UsageError(f"--profile-name {name!r} is not a usable profile name.", "Use letters, digits and -_.+ only.")
    return name
