"""Small helpers the step modules share (tag formats, ownership checks)."""
from __future__ import annotations

from xacct_dataapi import policies
from xacct_dataapi.config import TAG_DEPLOYMENT
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Action, Bookkeeping, Call, StepPlan
from xacct_dataapi.resource_types.base import tags_of as tag_dict  # noqa: F401  (the steps' name for it)

from xacct_dataapi.resource_types.base import INVALID_PRINCIPAL  # noqa: F401  (the steps' name for it)


def access_role_path(ctx) -> str:
    """The IAM path of this deployment's access role (config.Names.access_role_path)."""
    return ctx.names.access_role_path(ctx.cluster.id, ctx.region)


def access_role_arn(ctx) -> str:
    """The access role's ARN, path included (policies.role_arn says why the path matters). Deterministic, so the key,
    endpoint and consumer policies can name the role before it exists."""
    return policies.role_arn(ctx.provider_account, ctx.names.access_role, ctx.partition, access_role_path(ctx))


def iam_tags(tags: dict[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def kms_tags(tags: dict[str, str]) -> list[dict]:
    return [{"TagKey": k, "TagValue": v} for k, v in tags.items()]


def owned(tags: dict[str, str], deployment: str) -> bool:
    return tags.get(TAG_DEPLOYMENT) == deployment


def not_ours(kind: str, name: str, deployment: str, account: str) -> UsageError:
    return UsageError(
        f"A {kind} named {name!r} already exists in account {account} but is not tagged {TAG_DEPLOYMENT}={deployment}.",
        "xacct will not adopt or change it. Choose another deployment name with --name, or remove that resource.",
    )


def plan_policy_document(step: StepPlan, have, want_doc, *, put: Call, recorded: bool, what: str, document: str,
                         missing_reason: str) -> StepPlan:
    """The one decision every policy-document step makes: create, repair drift (naming the differing statements),
    adopt into the state file, or nothing. `want_doc` is the document as AWS would hold it."""
    if have is None:
        step.action, step.reason, step.calls = Action.CREATE, missing_reason, [put]
    elif not policies.equal(have, want_doc):
        diff = policies.differing_statements(have, want_doc)
        step.action, step.reason, step.calls = Action.REPAIR, f"{what} differs: " + "; ".join(diff), [put]
        step.problems = diff
        step.drift = policies.statement_drift(have, want_doc, document)
    elif not recorded:
        step.action, step.reason = Action.REPAIR, f"{what} is current but was not recorded"
        step.calls = [Bookkeeping(put.account, record=put.record, description=f"record the {what}")]
    else:
        step.reason = f"{what} is current"
    return step
