"""Secrets Manager: the deployment's credentials secret (its resource policy goes with it)."""
from __future__ import annotations

from xacct_dataapi.resource_types.base import NOT_OURS, OURS, Ownership, ResourceType, read_or_none, tags_of, tagged_for


class Secret(ResourceType):
    kind, service, noun = "secret", "secretsmanager", "secret"

    def read(self, client, row):
        return read_or_none(client.describe_secret, SecretId=row.arn or row.id)

    def judge(self, found, row, names):
        if found.get("Name") != names.secret:
            return Ownership(NOT_OURS, f"this deployment's secret is named {names.secret}")
        if not tagged_for(tags_of(found.get("Tags")), names.deployment):
            return Ownership(NOT_OURS, f"it is not tagged xacct:deployment={names.deployment}")
        return Ownership(OURS, f"secret {found['Name']} carries this deployment's name and tags")


TYPES = (Secret(),)
