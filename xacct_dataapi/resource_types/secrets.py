"""Secrets Manager: the deployment's credentials secret (its resource policy goes with it)."""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.aws import is_not_found
from xacct_dataapi.models import NOTHING_CHANGED, Account, Operation
from xacct_dataapi.resource_types.base import (
    NOT_OURS, OURS, ForgetOnly, Ownership, ResourceType, read_or_none, tags_of, tagged_for,
)


class Secret(ResourceType):
    kind, service, noun = "secret", "secretsmanager", "secret"

    def name_of(self, names) -> str:
        return names.secret

    def live(self, found) -> bool:
        return not found.get("DeletedDate")

    def read(self, client, row):
        return read_or_none(client.describe_secret, SecretId=row.arn or row.id)

    def judge(self, found, row, names):
        if found.get("Name") != names.secret:
            return Ownership(NOT_OURS, f"this deployment's secret is named {names.secret}")
        if not tagged_for(tags_of(found.get("Tags")), names.deployment):
            return Ownership(NOT_OURS, f"it is not tagged xacct:deployment={names.deployment}")
        return Ownership(OURS, f"secret {found['Name']} carries this deployment's name and tags")

    def delete(self, row, state) -> list:
        days = state.config.get("secret_recovery_days")
        params = {"SecretId": row.arn or row.id}
        if days:
            params["RecoveryWindowInDays"] = int(days)
        else:
            # A copy of credentials the operator holds: no recovery window, so the name is free again at once.
            params["ForceDeleteWithoutRecovery"] = True
        return [Operation(Account.PROVIDER, name="secretsmanager:delete_secret_unless_gone", run=delete_secret,
                          params=params, forget=(row.kind, row.id),
                          description=f"delete secret {row.id} " + (f"(recoverable for {days} days)" if days else
                                                                    "at once, without a recovery window"))]


def delete_secret(ops, SecretId: str, **how) -> dict:
    """Look the secret up by its ARN first: DeleteSecret with ForceDeleteWithoutRecovery succeeds even for a secret
    that no longer exists ("If you forcibly delete an already deleted or nonexistent secret, the operation does not
    return ResourceNotFoundException", DeleteSecret API reference), so only the lookup can tell "already gone"."""
    try:
        found = ops.client("secretsmanager").describe_secret(SecretId=SecretId)
    except ClientError as exc:
        if is_not_found(exc):
            return {NOTHING_CHANGED: "already gone"}
        raise
    if found.get("DeletedDate") and "RecoveryWindowInDays" in how:
        return {NOTHING_CHANGED: "already scheduled for deletion"}
    ops.call("secretsmanager", "delete_secret", SecretId=SecretId, **how)
    return {}


TYPES = (Secret(), ForgetOnly("secret_policy", Account.PROVIDER,
                              "forget the secret policy (the policy goes with the secret)"))
