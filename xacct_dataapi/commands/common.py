"""What every command shares: where a deployment's state lives, and the sessions its accounts are reached by."""
from __future__ import annotations

import os
from pathlib import Path

from xacct_dataapi import state as state_mod
from xacct_dataapi import state_s3
from xacct_dataapi.state_s3 import S3Location
from xacct_dataapi.aws import Sessions
from xacct_dataapi.config import state_path_for, validate_name
from xacct_dataapi.errors import UsageError
from xacct_dataapi.state import State


def resolve_state_path(state: Path | S3Location | None, name: str | None) -> Path | S3Location:
    """--state as given (an S3 prefix gets the deployment's file name), else XACCT_STATE (team state: an S3 prefix),
    else .xacct/<name>.json here."""
    if state is None and os.environ.get("XACCT_STATE"):
        state = state_location(os.environ["XACCT_STATE"])
    if isinstance(state, S3Location):
        return state.for_name(validate_name(name or "default"))
    if state is not None:
        return state
    path = state_path_for(validate_name(name or "default"))
    # IAM names are case-insensitive (a role "xacct-Dup-..." and "xacct-dup-..." are the same role), and so is
    # macOS's file system: --name Dup and --name dup must not be two deployments.
    for other in path.parent.glob("*.json") if path.parent.is_dir() else []:
        if other.stem.lower() == path.stem.lower() and other.stem != path.stem:
            raise UsageError(f"--name {path.stem!r}: deployment {other.stem!r} already exists here, and AWS treats the "
                             "names of IAM roles and users as the same regardless of case.",
                             f"Use --name {other.stem} for that deployment, or a name that differs by more than case.")
    return path


def state_location(value: str) -> Path | S3Location:
    """A state location as the operator writes it: s3://BUCKET/PREFIX/ (team state) or a local path."""
    return S3Location.parse(value) if value.startswith(state_s3.SCHEME) else Path(value)


def sessions_for(state: State, consumer_profile: str | None, provider_profile: str | None, region: str | None) -> Sessions:
    return Sessions.from_profiles(
        consumer_profile if consumer_profile is not None else state.profiles.get("consumer"),
        provider_profile if provider_profile is not None else state.profiles.get("provider"),
        region or state.region,
    )


load_required = state_mod.open_recorded  # the one way to open a recorded deployment (state.open_recorded)
