"""Small helpers the step modules share (tag formats, ownership checks)."""
from __future__ import annotations

from xacct_dataapi.config import TAG_DEPLOYMENT
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Account, Bookkeeping

INVALID_PRINCIPAL = ("MalformedPolicyDocumentException", "MalformedPolicyDocument", "InvalidParameterValue")


def iam_tags(tags: dict[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def kms_tags(tags: dict[str, str]) -> list[dict]:
    return [{"TagKey": k, "TagValue": v} for k, v in tags.items()]


def tag_dict(tags: list[dict] | None) -> dict[str, str]:
    out = {}
    for t in tags or []:
        out[t.get("Key", t.get("TagKey"))] = t.get("Value", t.get("TagValue"))
    return out


def owned(tags: dict[str, str], deployment: str) -> bool:
    return tags.get(TAG_DEPLOYMENT) == deployment


def not_ours(kind: str, name: str, deployment: str, account: str) -> UsageError:
    return UsageError(
        f"A {kind} named {name!r} already exists in account {account} but is not tagged {TAG_DEPLOYMENT}={deployment}.",
        "xacct will not adopt or change it. Choose another deployment name with --name, or remove that resource.",
    )


def forget_only(why: str):
    """Teardown for a row that needs no call of its own (a policy that goes with its resource)."""

    def teardown(row, state) -> list:
        return [Bookkeeping(Account(row.account), forget=(row.kind, row.id),
                            description=f"forget the {row.kind.replace('_', ' ')} ({why})")]

    return teardown
