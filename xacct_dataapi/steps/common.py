"""Small helpers the step modules share (tag formats, ownership checks)."""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.config import TAG_DEPLOYMENT
from xacct_dataapi.errors import UsageError
from xacct_dataapi.resource_types.base import tags_of as tag_dict  # noqa: F401  (the steps' name)


def access_role_path(ctx) -> str:
    """The IAM path of this deployment's access role (config.Names.access_role_path)."""
    return ctx.names.access_role_path(ctx.cluster.id, ctx.region)


def access_role_arn(ctx) -> str:
    """The access role's ARN, path included (policies.role_arn says why the path matters). Deterministic, so the key,
    endpoint and consumer policies can name the role before it exists."""
    return policies.role_arn(ctx.provider_account, ctx.names.access_role, ctx.partition, access_role_path(ctx))


def iam_tags(tags: dict[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def owned(tags: dict[str, str], deployment: str) -> bool:
    return tags.get(TAG_DEPLOYMENT) == deployment


def not_ours(kind: str, name: str, deployment: str, account: str) -> UsageError:
    return UsageError(
        f"A {kind} named {name!r} already exists in account {account} but is not tagged {TAG_DEPLOYMENT}={deployment}.",
        "xacct will not adopt or change it. Choose another deployment name with --name, or remove that resource.",
    )
