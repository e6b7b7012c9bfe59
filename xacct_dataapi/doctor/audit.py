"""Every other path to the data that doctor audits besides the documents xacct wrote (issue "nothing gets in
unseen"): what else is attached to the access role, and who else holds a KMS grant on the key.

Two families of actions matter. Data actions read the data: run SQL (rds-data), read the secret, decrypt with the
key. Control actions let whoever holds them grant themselves the data actions later: change a policy, create a
grant, change the role's trust or policies, update the secret's value or policy. Either, given to anyone but the
principals xacct put there, is a FAIL with the exact command that removes it. doctor never removes anything itself,
and setup never deletes a grant it did not make.
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from xacct_dataapi.doctor.chain import Chain
from xacct_dataapi.doctor.model import FAIL, OK, SKIPPED, Check
from xacct_dataapi.errors import error_code
from xacct_dataapi.models import Account

P = Account.PROVIDER.value

# What an extra statement in each document must not allow (data and control actions; policy_checks FAILs them).
SECRET_SENSITIVE = ("secretsmanager:GetSecretValue", "secretsmanager:PutResourcePolicy",
                    "secretsmanager:DeleteResourcePolicy", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret")
KEY_SENSITIVE = ("kms:Decrypt", "kms:PutKeyPolicy", "kms:CreateGrant", "kms:ReEncryptFrom")
TRUST_SENSITIVE = ("sts:AssumeRole",)
ROLE_SENSITIVE = ("rds-data:ExecuteStatement", "secretsmanager:GetSecretValue", "kms:Decrypt",
                  "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PassRole",
                  "sts:AssumeRole")


def role_policy_checks(chain: Chain, xacct_policy: str | None) -> list[Check]:
    """The access role carries xacct's one inline policy and nothing else: an attached managed policy (AWS managed
    or not) or another inline policy widens what every consumer of the role can do."""
    if chain.role is None:
        return [Check("role.other-policies", "access role", P, SKIPPED, "no access role to read")]
    name = chain.role["RoleName"]
    iam = chain.aws.client(Account.PROVIDER, "iam")
    try:
        attached = [p for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
                    for p in page.get("AttachedPolicies", [])]
        inline = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=name)
                  for n in page.get("PolicyNames", [])]
    except ClientError as exc:
        return [Check("role.other-policies", "access role", P, SKIPPED,
                      f"the provider profile may not list {name}'s policies ({error_code(exc) or 'denied'})")]
    extra = [n for n in inline if n != xacct_policy] if xacct_policy is not None else []
    ours = f"xacct's {xacct_policy}" if xacct_policy else "its inline policies"
    if not attached and not extra:
        return [Check("role.other-policies", "access role", P, OK, f"{name} carries {ours} only, nothing attached")]
    found = [f"attached policy {p['PolicyArn']}" for p in attached] + [f"inline policy {n}" for n in extra]
    fixes = ([f"`aws iam detach-role-policy --role-name {name} --policy-arn {p['PolicyArn']}`" for p in attached]
             + [f"`aws iam delete-role-policy --role-name {name} --policy-name {n}`" for n in extra])
    return [Check("role.other-policies", "access role", P, FAIL,
                  f"{name} carries {', '.join(found)} besides {ours}: whoever may assume the role "
                  "gets those permissions too", "Find out who added it, then " + "; ".join(fixes) + ".")]


def key_grant_checks(chain: Chain) -> list[Check]:
    """KMS grants give a principal the key's operations outside the key policy (CreateGrant): xacct makes none, and
    Secrets Manager needs none (it decrypts through kms:ViaService under the key policy)."""
    if chain.key is None:
        return [Check("key.grants", "key", P, SKIPPED, "no key to read")]
    kms = chain.aws.client(Account.PROVIDER, "kms")
    key = chain.key["Arn"]
    try:
        found = [g for page in kms.get_paginator("list_grants").paginate(KeyId=key) for g in page.get("Grants", [])]
    except ClientError as exc:
        return [Check("key.grants", "key", P, SKIPPED, f"the provider profile may not list the key's grants "
                      f"({error_code(exc) or 'denied'})")]
    if not found:
        return [Check("key.grants", "key", P, OK, f"{key}: no grants")]
    what = [f"grant {g.get('GrantId')} gives {', '.join(g.get('Operations', []))} to {g.get('GranteePrincipal')}"
            for g in found]
    fixes = [f"`aws kms revoke-grant --key-id {key} --grant-id {g.get('GrantId')}`" for g in found]
    return [Check("key.grants", "key", P, FAIL, f"{key}: " + "; ".join(what),
                  "Find out who created it, then " + "; ".join(fixes) + ".")]
