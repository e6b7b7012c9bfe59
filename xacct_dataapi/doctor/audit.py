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

from xacct_dataapi import policies
from xacct_dataapi.doctor.chain import Chain
from xacct_dataapi.doctor.model import FAIL, OK, SKIPPED, Check
from xacct_dataapi.errors import error_code
from xacct_dataapi.models import Account
from xacct_dataapi.resource_types import widening

P = Account.PROVIDER.value

# What an extra statement in each document must not allow (data and control actions; policy_checks FAILs them).
SECRET_SENSITIVE = ("secretsmanager:GetSecretValue", "secretsmanager:PutResourcePolicy",
                    "secretsmanager:DeleteResourcePolicy", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret")
KEY_SENSITIVE = ("kms:Decrypt", "kms:PutKeyPolicy", "kms:CreateGrant", "kms:ReEncryptFrom")
TRUST_SENSITIVE = ("sts:AssumeRole",)
# The endpoint admits; it grants nothing alone. A statement admitting a Data API call by anyone but the members'
# access roles is still a FAIL: it undoes the restriction --endpoint-policy restricted stands for.
ENDPOINT_SENSITIVE = tuple(policies.DATA_API_ACTIONS)
ROLE_SENSITIVE = ("rds-data:ExecuteStatement", "secretsmanager:GetSecretValue", "kms:Decrypt",
                  "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PassRole",
                  "sts:AssumeRole")


def _widening_check(cid: str, link: str, subject: str, read, clean: str) -> Check:
    try:
        found = read()
    except ClientError as exc:
        return Check(cid, link, P, SKIPPED, f"the provider profile may not list {subject} "
                     f"({error_code(exc) or 'denied'})")
    if not found:
        return Check(cid, link, P, OK, clean)
    return Check(cid, link, P, FAIL, "; ".join(w.evidence() for w in found),
                 "Find out who added it, then " + "; ".join(f"`{w.fix}`" for w in found) + ".")


def role_policy_checks(chain: Chain, xacct_policy: str | None) -> list[Check]:
    """The access role carries xacct's one inline policy and nothing else: an attached managed policy (AWS managed
    or not) or another inline policy widens what every consumer of the role can do."""
    if chain.role is None:
        return [Check("role.other-policies", "access role", P, SKIPPED, "no access role to read")]
    name, arn = chain.role["RoleName"], chain.role["Arn"]
    iam = chain.aws.client(Account.PROVIDER, "iam")
    ours = f"xacct's {xacct_policy}" if xacct_policy else "its inline policies"
    return [_widening_check("role.other-policies", "access role", f"{name}'s policies",
                            lambda: widening.role_widenings(iam, name, arn, xacct_policy),
                            f"{name} carries {ours} only, nothing attached")]


def key_grant_checks(chain: Chain) -> list[Check]:
    """KMS grants give a principal the key's operations outside the key policy (CreateGrant): any is a FAIL."""
    if chain.key is None:
        return [Check("key.grants", "key", P, SKIPPED, "no key to read")]
    kms, key = chain.aws.client(Account.PROVIDER, "kms"), chain.key["Arn"]
    return [_widening_check("key.grants", "key", "the key's grants", lambda: widening.key_grant_widenings(kms, key),
                            f"{key}: no grants")]
