"""The one writer of the AWS config/credentials files a test runs with, and the environment isolation around it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION

# Besides every AWS_* variable: what could point boto3 or xacct at something other than the test's own files.
CLEARED = ("MOTO_ACCOUNT_ID", "XACCT_DB_PASSWORD")


def write_profiles(directory: Path, regions: dict[str, str] | None = None) -> dict[str, str]:
    """Write `aws-config` and `aws-credentials` into directory and return the variables that select them.

    Profiles: `base` (static fake keys), `consumer` and `provider` (roles in CONSUMER and PROVIDER, assumed from
    base, so moto answers as that account), and `provider2` (a role in the consumer account). Every profile's
    region is REGION unless `regions` ({profile: region}) says otherwise."""
    regions = regions or {}
    cfg, creds = directory / "aws-config", directory / "aws-credentials"

    def role(name: str, account: str) -> str:
        return (f"[profile {name}]\nrole_arn = arn:aws:iam::{account}:role/xacct-test\nsource_profile = base\n"
                f"region = {regions.get(name, REGION)}")

    cfg.write_text("\n\n".join([
        f"[profile base]\nregion = {regions.get('base', REGION)}",
        role("consumer", CONSUMER),
        role("provider", PROVIDER),
        role("provider2", CONSUMER),
    ]) + "\n")
    creds.write_text("[base]\naws_access_key_id = AKIAXACCTTESTBASE000\naws_secret_access_key = test-secret-not-real\n")
    return {"AWS_CONFIG_FILE": str(cfg), "AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_EC2_METADATA_DISABLED": "true"}


def isolate(mp: pytest.MonkeyPatch, directory: Path) -> None:
    """Clear every AWS_* variable (and CLEARED), use write_profiles(directory)'s files, and chdir to directory."""
    for var in [v for v in os.environ if v.startswith("AWS_") or v in CLEARED]:
        mp.delenv(var)
    for var, value in write_profiles(directory).items():
        mp.setenv(var, value)
    mp.chdir(directory)
