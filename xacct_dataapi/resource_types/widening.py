"""What widens a resource of this deployment beyond what xacct wrote, where xacct did not make it and so never
removes it: a policy attached to the access role (managed, AWS managed or not, or another inline policy) and a KMS
grant on the key. setup names each and fails (exit 1), status shows it, doctor fails it; the operator removes it
with the command given, after finding out who added it. Read by the access-role and key-policy steps and by doctor.

Managed policy documents are read where the profile may (iam:GetPolicy, iam:GetPolicyVersion); otherwise the
finding says so and still names the policy.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.exceptions import ClientError

from xacct_dataapi.errors import error_code

MAX_ACTIONS = 4  # named in a finding; the rest counted


@dataclass(frozen=True)
class Widening:
    what: str  # "attached policy arn:…", "grant 1a2b…"
    principal: str  # who gains through it
    actions: str  # what they gain
    where: str  # the resource it stands on
    fix: str  # the one command that removes it

    def line(self) -> str:
        return (f"{self.evidence()}; xacct did not add it and will not remove it. Find out who added it, then "
                f"`{self.fix}`")

    def evidence(self) -> str:
        return f"{self.what} on {self.where} gives {self.actions} to {self.principal}"


def _document(doc) -> dict:
    if isinstance(doc, str):  # IAM returns documents URL-encoded; boto3 decodes them, a raw client may not
        doc = json.loads(unquote(doc))
    return doc if isinstance(doc, dict) else {}


def allowed_actions(doc) -> str:
    """The actions a policy document allows, named for a finding ("*", "every action but X", a list)."""
    sts = _document(doc).get("Statement", [])
    found: list[str] = []
    for st in sts if isinstance(sts, list) else [sts]:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        if "NotAction" in st:
            not_actions = st["NotAction"] if isinstance(st["NotAction"], list) else [st["NotAction"]]
            found.append("every action but " + ", ".join(map(str, not_actions)))
        acts = st.get("Action", [])
        found += [str(a) for a in (acts if isinstance(acts, list) else [acts])]
    found = list(dict.fromkeys(found))
    if not found:
        return "no allowed action"
    more = f" and {len(found) - MAX_ACTIONS} more" if len(found) > MAX_ACTIONS else ""
    return ", ".join(found[:MAX_ACTIONS]) + more


def _managed_actions(iam, arn: str) -> str:
    try:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    except ClientError as exc:
        return f"its permissions (not readable here: {error_code(exc) or 'denied'})"
    return allowed_actions(doc)


def role_policy_names(iam, role_name: str) -> tuple[list[str], list[str]]:
    """The ARNs of the managed policies attached to the role, and the names of its inline policies (every page)."""
    attached = [p["PolicyArn"] for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name)
                for p in page.get("AttachedPolicies", [])]
    inline = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name)
              for n in page.get("PolicyNames", [])]
    return attached, inline


def role_widenings(iam, role_name: str, role_arn: str, ours: str | None,
                   listed: tuple[list[str], list[str]] | None = None) -> list[Widening]:
    """Every managed policy attached to the role and every inline policy but `ours` (None: every inline policy is
    taken as the role's own, as doctor does without a state file); `listed`: role_policy_names, if already read.
    Raises ClientError when the lists are denied."""
    attached, inline = listed if listed is not None else role_policy_names(iam, role_name)
    inline = [n for n in inline if ours is not None and n != ours]
    who = f"whoever may assume {role_arn}"
    out = [Widening(f"attached policy {arn}", who, _managed_actions(iam, arn), f"role {role_name}",
                    f"aws iam detach-role-policy --role-name {role_name} --policy-arn {arn}") for arn in attached]
    for name in inline:
        doc = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        out.append(Widening(f"inline policy {name}", who, allowed_actions(doc), f"role {role_name}",
                            f"aws iam delete-role-policy --role-name {role_name} --policy-name {name}"))
    return out


def key_grant_widenings(kms, key_arn: str) -> list[Widening]:
    """Every KMS grant on the key: xacct makes none, and Secrets Manager needs none (it decrypts through
    kms:ViaService under the key policy). Raises ClientError when ListGrants is denied."""
    grants = [g for page in kms.get_paginator("list_grants").paginate(KeyId=key_arn) for g in page.get("Grants", [])]
    return [Widening(f"grant {g.get('GrantId')}", str(g.get("GranteePrincipal")),
                     ", ".join(g.get("Operations", [])) or "no operation", f"key {key_arn}",
                     f"aws kms revoke-grant --key-id {key_arn} --grant-id {g.get('GrantId')}") for g in grants]
