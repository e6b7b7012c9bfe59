"""`xacct connect`: hand the access to the application team, from the state file only (no AWS call).

Everything comes from what setup recorded (docs/how-it-works.md, "The hand-off"): the access role and its
external id, the cluster, the secret, the database (the secret's dbname), the engine, the region and the consumer
principal that must make the call. No secret value is ever read or printed, and no access key is created.

The `profile` format is an AWS config block that assumes the access role from a source of credentials
(`source_profile` or `credential_source`); every SDK and the AWS CLI then refresh the role's credentials by
themselves (https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html: role_arn,
external_id, role_session_name, source_profile, credential_source). `--write` merges it into the AWS config file
(AWS_CONFIG_FILE or ~/.aws/config), replacing only a section it wrote itself.

handoff.py: the values, read from the state and checked; formats.py: what each --format prints; profile_file.py:
the AWS config file's section, written by --write and removed by teardown.
"""
from __future__ import annotations

from xacct_dataapi.connect.formats import FORMATS, profile_block, render
from xacct_dataapi.connect.handoff import (
    CREDENTIAL_SOURCES, HandOff, Source, default_profile_name, handoff_summary,
)
from xacct_dataapi.connect.profile_file import MARKER, config_path, merge_profile, remove_profiles, write_profile

__all__ = [
    "CREDENTIAL_SOURCES", "FORMATS", "HandOff", "MARKER", "Source", "config_path", "default_profile_name",
    "handoff_summary", "merge_profile", "profile_block", "remove_profiles", "render", "write_profile",
]
