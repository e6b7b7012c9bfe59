"""What a request asks for, as IAM sees it: the resource ARNs of one moto request, each with the condition keys
AWS sets for it and the resource-based policy that governs it.

Per action, the resource types and condition keys follow the IAM service authorization reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/): `aws:ResourceTag/*` is the tags of the
resource the statement is checked against (each resource of a multi-resource call separately); `aws:RequestTag/*`
and `aws:TagKeys` are set only on the resource being created or tagged; `ec2:CreateAction` only on the implied
`ec2:CreateTags` of a create call with TagSpecifications. A KMS key created with tags is also checked as
`kms:TagResource` on every key of the account and Region. Actions not listed here are checked against `"*"`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from xacct_dataapi.policy_eval.decide import KMS_KEY, OTHER, ROLE_TRUST

Lookup = Callable[..., Any]
LOCKOUT = ("MalformedPolicyDocumentException",
           "The new key policy will not allow you to update the key policy in the future.")


@dataclass
class Target:
    """One resource of a request (or of a call AWS makes on the caller's behalf)."""

    resource: str
    account: str | None = None
    context: dict = field(default_factory=dict)
    policy: Any = None
    kind: str = OTHER
    action: str | None = None  # another action than the request's (the implied tag action, a forward call)
    grants: tuple = ()  # a KMS key's grants (decide.Question.grants)
    refusal: tuple[str, str] | None = None  # AWS's (code, message) when this one is denied, if not AccessDenied's


def tag_context(prefix: str, tags: Any) -> dict:
    """`aws:ResourceTag/K` (or RequestTag) for tags in any of AWS's shapes: [{Key, Value}], [{TagKey, TagValue}], {K: V}."""
    pairs: dict[str, str] = {}
    if isinstance(tags, dict):
        for k, v in tags.items():
            pairs[k] = v["Value"] if isinstance(v, dict) and "Value" in v else v
    for t in tags if isinstance(tags, list) else []:
        if isinstance(t, dict):
            key = t.get("Key", t.get("TagKey"))
            if key is not None:
                pairs[str(key)] = str(t.get("Value", t.get("TagValue", "")))
    return {f"{prefix}/{k}".lower(): [str(v)] for k, v in pairs.items()}


def request_tags(tags: Any) -> dict:
    ctx = tag_context("aws:RequestTag", tags)
    if ctx:
        ctx["aws:tagkeys"] = _tag_keys(tags)  # the keys in their own case
    return ctx


def _tag_keys(tags: Any) -> list[str]:
    if isinstance(tags, dict):
        return list(tags)
    return [str(t.get("Key", t.get("TagKey"))) for t in tags or [] if isinstance(t, dict)]


def arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


# --- per service --------------------------------------------------------------------------------------------

def _iam(op: str, p: dict, acct: str, region: str) -> list[Target]:
    from moto.iam.models import iam_backends

    iam = iam_backends[acct]["aws"]
    if op in ("ListRoles", "ListUsers", "ListPolicies", "GetAccountAuthorizationDetails"):
        return [Target("*")]
    if op == "SimulatePrincipalPolicy":
        return [Target(str(p.get("PolicySourceArn")), arn_account(str(p.get("PolicySourceArn"))))]
    for kind, param, get in (("role", "RoleName", iam.get_role), ("user", "UserName", iam.get_user)):
        if param not in p:
            continue
        name, tagging = str(p[param]), op in (f"Tag{kind.title()}", f"Create{kind.title()}")
        try:
            found = get(name)
        except Exception:  # not there (yet): the ARN it would have
            return [Target(f"arn:aws:iam::{acct}:{kind}{p.get('Path') or '/'}{name}", acct, request_tags(p.get("Tags")))]
        return [Target(found.arn, acct, tag_context("aws:ResourceTag", found.tags)
                       | (request_tags(p.get("Tags")) if tagging else {}))]
    if "PolicyArn" in p:
        arn = str(p["PolicyArn"])
        # An AWS managed policy (arn:aws:iam::aws:policy/...) belongs to no account: any principal whose identity
        # policy allows it may read or attach it, with no resource policy to pass ("AWS managed policies", IAM User
        # Guide), so it is judged as the caller's own account's resource.
        owner = arn_account(arn)
        return [Target(arn, acct if owner == "aws" else owner)]
    return [Target("*")]


def _role_in(arn: str) -> Any:
    from moto.iam.models import iam_backends

    account = arn_account(arn)
    try:
        return iam_backends[account]["aws"].get_role_by_arn(arn) if account else None
    except Exception:
        return None


def _sts(op: str, p: dict, acct: str, region: str) -> list[Target]:
    if op != "AssumeRole":
        return [Target("*")]
    arn = str(p.get("RoleArn"))
    role = _role_in(arn)
    ctx: dict = {}
    if p.get("ExternalId") is not None:
        ctx["sts:externalid"] = [str(p["ExternalId"])]
    ctx |= tag_context("aws:ResourceTag", role.tags) if role else {}
    # The trust policy of a role that does not exist allows nothing.
    trust = role.assume_role_policy_document if role else '{"Statement": []}'
    return [Target(arn, arn_account(arn), ctx, trust, ROLE_TRUST)]


def kms_key(account: str, region: str, key_id: str) -> Any:
    from moto.kms.models import kms_backends

    try:
        backend = kms_backends[account][region]
        return backend.describe_key(backend.any_id_to_key_id(key_id) if key_id.startswith("alias/") else key_id)
    except Exception:
        return None


def key_target(account: str, region: str, key_id: str, extra: dict | None = None, action: str | None = None) -> Target:
    from moto.kms.models import kms_backends

    if key_id.startswith("arn:"):
        account, region = arn_account(key_id) or account, key_id.split(":")[3]
    key = kms_key(account, region, key_id)
    if key is None:
        # No such key: no key policy to consult; the identity policy decides whether the caller may learn that
        # (moto then answers NotFoundException, as KMS does).
        arn = key_id if key_id.startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{key_id}"
        return Target(arn, account, dict(extra or {}), None, OTHER, action)
    tags = kms_backends[account][region].list_resource_tags(key.id).get("Tags", [])
    ctx = tag_context("aws:ResourceTag", tags) | (extra or {})
    grants = tuple(g.to_json() for g in getattr(key, "grants", {}).values())
    return Target(key.arn, account, ctx, key.policy, KMS_KEY, action, grants)


def _kms(op: str, p: dict, acct: str, region: str) -> list[Target]:
    if op in ("CreateKey", "ListKeys", "ListAliases", "GenerateRandom"):
        targets = [Target("*", None, request_tags(p.get("Tags")))]
        if op == "CreateKey" and p.get("Tags"):
            # Tags at creation need kms:TagResource too, in an IAM policy that covers every key of the account and
            # Region (the key has no id yet): a statement scoped to some keys only does not allow it.
            targets.append(Target(f"arn:aws:kms:{region}:{acct}:key/*", acct, request_tags(p.get("Tags")),
                                  action="kms:TagResource"))
        return targets
    alias_arn = f"arn:aws:kms:{region}:{acct}:" + str(p.get("AliasName", ""))
    if op in ("CreateAlias", "UpdateAlias"):
        targets = [Target(alias_arn, acct), key_target(acct, region, str(p.get("TargetKeyId")))]
        if op == "UpdateAlias":
            from moto.kms.models import kms_backends
            current = kms_backends[acct][region].get_key_id_from_alias(str(p.get("AliasName")))
            if current:
                targets.append(key_target(acct, region, current))
        return targets
    if op == "DeleteAlias":
        from moto.kms.models import kms_backends
        current = kms_backends[acct][region].get_key_id_from_alias(str(p.get("AliasName")))
        return [Target(alias_arn, acct)] + ([key_target(acct, region, current)] if current else [])
    if "KeyId" in p:
        extra = request_tags(p.get("Tags")) if op == "TagResource" else {}
        if op == "UntagResource":
            extra = {"aws:tagkeys": [str(k) for k in p.get("TagKeys", [])]}
        target = key_target(acct, region, str(p["KeyId"]), extra)
        if op == "PutKeyPolicy" and p.get("Policy") and not p.get("BypassPolicyLockoutSafetyCheck"):
            # The policy lockout safety check: the new policy must let the caller call PutKeyPolicy again.
            return [target, Target(target.resource, target.account, target.context, str(p["Policy"]), KMS_KEY,
                                   "kms:PutKeyPolicy", target.grants, LOCKOUT)]
        return [target]
    return [Target("*")]


def secret_target(account: str, region: str, secret_id: str, extra: dict | None = None) -> tuple[Target, Any]:
    from moto.secretsmanager.models import secretsmanager_backends

    if secret_id.startswith("arn:"):
        account, region = arn_account(secret_id) or account, secret_id.split(":")[3]
    try:
        backend = secretsmanager_backends[account][region]
        secret = backend.secrets.get(secret_id) if secret_id in backend.secrets else None
    except Exception:  # not an ARN of any region or account: nothing there
        secret = None
    if secret is None:
        arn = secret_id if secret_id.startswith("arn:") else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}"
        return Target(arn, account, dict(extra or {})), None
    ctx = tag_context("aws:ResourceTag", secret.tags or []) | (extra or {})
    return Target(secret.arn, account, ctx, getattr(secret, "policy", None)), secret


def version_context(p: dict) -> dict:
    ctx = {}
    if p.get("VersionStage") is not None:
        ctx["secretsmanager:versionstage"] = [str(p["VersionStage"])]
    if p.get("VersionId") is not None:
        ctx["secretsmanager:versionid"] = [str(p["VersionId"])]
    return ctx


def _secretsmanager(op: str, p: dict, acct: str, region: str) -> list[Target]:
    if op in ("ListSecrets", "GetRandomPassword", "BatchGetSecretValue"):
        return [Target("*")]
    if op == "CreateSecret":
        target = Target(f"arn:aws:secretsmanager:{region}:{acct}:secret:{p.get('Name')}", acct,
                        request_tags(p.get("Tags")))
        kms = _sm_encrypt(acct, region, p.get("KmsKeyId"), bool(p.get("SecretString") or p.get("SecretBinary")))
        return [target, *kms]
    extra = version_context(p)
    if op == "TagResource":
        extra |= request_tags(p.get("Tags"))
    target, secret = secret_target(acct, region, str(p.get("SecretId")), extra)
    targets = [target]
    if secret is not None and op in ("UpdateSecret", "PutSecretValue"):
        writes = bool(p.get("SecretString") or p.get("SecretBinary"))
        targets += _sm_encrypt(acct, region, p.get("KmsKeyId") or secret.kms_key_id, writes)
    if secret is not None and op == "GetSecretValue":
        targets += _sm_decrypt(acct, region, secret)
    return targets


def via_secretsmanager(region: str, account: str) -> dict:
    """What KMS sees when Secrets Manager uses a key on the caller's behalf (forward access session)."""
    return {"kms:viaservice": [f"secretsmanager.{region}.amazonaws.com"], "kms:calleraccount": [account],
            "aws:viaawsservice": ["true"], "aws:calledvia": ["secretsmanager.amazonaws.com"]}


def _sm_encrypt(acct: str, region: str, key_id: Any, writes: bool) -> list[Target]:
    """A new secret value under a customer managed key: Secrets Manager acts for the caller, who needs both
    kms:GenerateDataKey and kms:Decrypt on the key ("Secret encryption and decryption in AWS Secrets Manager")."""
    if not key_id or not writes:
        return []  # the AWS managed key aws/secretsmanager: no key policy of the caller's to pass
    via = via_secretsmanager(region, acct)
    return [key_target(acct, region, str(key_id), via, action) for action in ("kms:GenerateDataKey", "kms:Decrypt")]


def secret_encryption_context(secret: Any) -> dict:
    """The encryption context Secrets Manager uses with the secret's key: SecretARN and SecretVersionId ("How
    Secrets Manager uses AWS KMS", Secrets Manager User Guide)."""
    ctx = {"kms:encryptioncontext:secretarn": [str(secret.arn)]}
    version = getattr(secret, "default_version_id", None)
    return ctx | ({"kms:encryptioncontext:secretversionid": [str(version)]} if version else {})


def _sm_decrypt(acct: str, region: str, secret: Any) -> list[Target]:
    key_id = getattr(secret, "kms_key_id", None)
    if not key_id:
        return []
    extra = via_secretsmanager(region, acct) | secret_encryption_context(secret)
    return [key_target(acct, region, str(key_id), extra, "kms:Decrypt")]
