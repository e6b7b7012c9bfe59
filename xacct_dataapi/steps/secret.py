"""Step 3 (provider): the DB user's credentials in Secrets Manager, encrypted with the step-1 key.

KmsKeyId is the full key ARN: a bare key id would be resolved in the *caller's* account by a
cross-account reader. Changing the key of an existing secret does not re-encrypt old versions, so a
repair writes a new version under the right key.
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.aws import is_not_found
from xacct_dataapi.models import (
    Account, Action, Bookkeeping, Call, Inspection, Record, Ref, Resource, Retry, Step, StepPlan,
)
from xacct_dataapi.steps.common import iam_tags, not_ours, owned, tag_dict

NUMBER = 3

SCHEDULED = Retry(("InvalidRequestException",), ("scheduled for deletion",),
                  "a secret of this name is still being deleted")


def inspect(ctx, known) -> Inspection:
    sm = ctx.client(Account.PROVIDER, "secretsmanager")
    try:
        desc = sm.describe_secret(SecretId=ctx.names.secret)
    except ClientError as exc:
        if is_not_found(exc):
            return Inspection({"secret": None}, {"secret_arn": None})
        raise
    ours = owned(tag_dict(desc.get("Tags")), ctx.names.deployment) and not desc.get("DeletedDate")
    return Inspection({"secret": desc}, {"secret_arn": desc["ARN"] if ours else None})


def _key_matches(kms_key_id: str | None, ctx) -> bool:
    return bool(kms_key_id) and kms_key_id in (ctx.known("key_arn"), ctx.known("key_id"), ctx.names.key_alias)


TAG_CONNECTION = "xacct:connection"


def connection(ctx) -> str:
    """What the secret points at, minus the password: kept as a tag so a change is seen without reading the secret
    (its policy denies GetSecretValue to everyone but the access role)."""
    return ctx.secret_fields()["connection"]


def desired(ctx) -> list[Resource]:
    name = ctx.names.secret
    return [Resource("secret", name, Account.PROVIDER, arn=ctx.known("secret_arn"),
                     tags={**ctx.names.tags(), TAG_CONNECTION: connection(ctx)},
                     properties={"Description": f"xacct {ctx.names.deployment}: Data API credentials for {ctx.cluster.id}",
                                 "KmsKeyId": ctx.known("key_arn"), "SecretString": ctx.secret_string()})]


def _rewrite(want: Resource, arn: str, description: str, *, key_arn=None, record: Record | None = None) -> list[Call]:
    """Write the credentials again (a new version, optionally under the xacct key) and re-tag what they point at."""
    params = {"SecretId": arn, **({"KmsKeyId": key_arn} if key_arn is not None else {}),
              "SecretString": want.properties["SecretString"]}
    return [
        Call(Account.PROVIDER, "secretsmanager", "update_secret", params, record=record, description=description),
        Call(Account.PROVIDER, "secretsmanager", "tag_resource",
             {"SecretId": arn, "Tags": iam_tags({TAG_CONNECTION: want.tags[TAG_CONNECTION]})},
             description="record what the secret points at"),
    ]


def plan(ctx, facts: dict, desired: list[Resource]) -> StepPlan:
    (want,) = desired
    name = want.id
    step = StepPlan(NUMBER, STEP.key, STEP.title, Action.NOOP, "")
    desc = facts["secret"]
    key_arn = want.properties["KmsKeyId"]
    if desc is None:
        step.action, step.reason = Action.CREATE, f"no secret named {name}"
        step.calls.append(Call(
            Account.PROVIDER, "secretsmanager", "create_secret",
            {"Name": name, **want.properties, "Tags": iam_tags(want.tags)},
            outputs={"secret_arn": "ARN"}, record=Record("secret", name, arn=Ref("secret_arn")), retry=SCHEDULED,
            description="create the secret"))
        return step
    if not owned(tag_dict(desc.get("Tags")), ctx.names.deployment):
        raise not_ours("secret", name, ctx.names.deployment, ctx.provider_account)
    arn = desc["ARN"]
    if desc.get("DeletedDate"):
        step.action, step.reason = Action.REPAIR, f"secret {name} is scheduled for deletion"
        step.calls.append(Call(Account.PROVIDER, "secretsmanager", "restore_secret", {"SecretId": arn},
                               record=Record("secret", name, arn=arn), description="restore the secret"))
        step.calls += _rewrite(want, arn, "write fresh credentials under the key", key_arn=key_arn)
        # Restored, it is ours again: later steps (the secret policy, the role's permissions) name it.
        ctx.values["secret_arn"] = arn
        return step
    if not _key_matches(desc.get("KmsKeyId"), ctx):
        step.action = Action.REPAIR
        step.reason = f"secret {name} is encrypted with {desc.get('KmsKeyId') or 'the AWS managed key'}, not the xacct key"
        step.problems = [step.reason]
        step.calls += _rewrite(want, arn, "re-encrypt with the xacct key", key_arn=key_arn,
                               record=Record("secret", name, arn=arn))
    else:
        have = tag_dict(desc.get("Tags")).get(TAG_CONNECTION)
        want_connection = want.tags[TAG_CONNECTION]
        if have != want_connection or ctx.cfg.rotate_password:
            step.action = Action.REPAIR
            if have != want_connection:
                step.reason = (f"secret {name} holds credentials for {have or 'an unknown user'}, "
                               f"setup asks for {want_connection}")
                step.problems = [step.reason]
            else:
                step.reason = f"--rotate-password: new credentials for {want_connection}"
            step.calls += _rewrite(want, arn, "write the new credentials", record=Record("secret", name, arn=arn))
        elif not ctx.state.find("secret", name):
            step.action, step.reason = Action.REPAIR, f"secret {name} exists but was not recorded"
            step.calls.append(Bookkeeping(Account.PROVIDER, record=Record("secret", name, arn=arn),
                                          description="record the secret"))
        else:
            step.reason = f"secret {name} exists, encrypted with the xacct key, for {want_connection}"
    return step


STEP = Step(NUMBER, "secret", "DB credentials secret (provider)", ("secret",), inspect=inspect, desired=desired,
            plan=plan, provides=("secret_arn",))
