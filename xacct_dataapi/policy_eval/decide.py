"""AWS's decision for one (principal, action, resource): explicit deny, then who must allow.

From the IAM User Guide:
- "Policy evaluation logic" / "How AWS enforcement code logic evaluates requests to allow or deny access"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html):
  an explicit Deny in any applicable policy wins; otherwise some policy must Allow.
- "Policy evaluation for requests within a single account"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html):
  within one account an Allow in either the identity-based or the resource-based policy is enough, except that
  IAM role trust policies and KMS key policies must themselves allow. A resource policy that names the *account*
  (`arn:aws:iam::ACCOUNT:root`) delegates to the account's identity policies: they must allow too.
- "Cross-account policy evaluation logic"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html):
  from another account, the caller's identity policy AND the resource's policy must both allow.
- KMS grants ("Grants in AWS KMS", https://docs.aws.amazon.com/kms/latest/developerguide/grants.html): "the grant
  allows the grantee principal to call the specified grant operations on the KMS key provided that all conditions
  specified in the grant are met"; a grant allows, never denies, so an explicit deny still wins. A grant to a role
  covers its sessions. Constraints: EncryptionContextSubset / EncryptionContextEquals against the request's
  `kms:EncryptionContext:*` keys (keys case-insensitive, values case-sensitive, "GrantConstraints", KMS API
  reference). From another account the sandbox also wants the caller's identity policy, as for the key policy.
- VPC endpoint policies ("Control access to VPC endpoints using endpoint policies",
  https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html) do not grant: a request through an
  endpoint must also be allowed by its policy.
Not modelled: SCPs/RCPs, permissions boundaries, session policies, the account root user as a caller.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xacct_dataapi.policy_eval.policy import Context, Statement, statements_of

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"
KMS_KEY, ROLE_TRUST, OTHER = "kms-key", "role-trust", "other"


@dataclass(frozen=True)
class Principal:
    """Who calls: `arn` as it reads in errors (a user, or an assumed-role session), `principal_arn` as
    aws:PrincipalArn reads (for a session: its role's ARN, path included)."""

    arn: str
    account: str
    principal_arn: str
    identity_policies: tuple[Any, ...] = ()

    @property
    def kind(self) -> str:
        return "AssumedRole" if ":assumed-role/" in self.arn else "User"


@dataclass
class Question:
    principal: Principal
    action: str
    resource: str
    context: Context = field(default_factory=dict)
    resource_account: str | None = None  # None: not an account's resource ("*")
    resource_policy: Any = None
    resource_kind: str = OTHER
    endpoint_policy: Any = None  # the VPC endpoint's policy when the request goes through one
    grants: tuple = ()  # a KMS key's grants: dicts of GranteePrincipal, Operations, Constraints, GrantId


@dataclass(frozen=True)
class Decision:
    decision: str
    matched: tuple[str, ...] = ()  # "identity:Sid" / "resource:Sid" / "endpoint:Sid" of the deciding statements
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOW


def _names_principal(st: Statement, who: Principal) -> str | None:
    """'direct' when the statement's Principal names the caller (or everyone), 'account' when only its account."""
    def match(ids: tuple[str, ...]) -> str | None:
        found = None
        for p in ids:
            if p == "*":
                return "direct"
            if p in (who.arn, who.principal_arn):
                return "direct"
            if p in (who.account, f"arn:aws:iam::{who.account}:root") or p.endswith(f"::{who.account}:root"):
                found = "account"
        return found

    if st.principals is not None:
        return match(st.principals)
    if st.not_principals is not None:
        return None if match(st.not_principals) else "direct"
    return None


def _scan(statements: list[Statement], q: Question, *, resource_policy: bool) -> tuple[list[str], list[str], list[str]]:
    """(denying, direct allows, account-delegated allows) statement ids."""
    deny, direct, via_account = [], [], []
    for st in statements:
        how = _names_principal(st, q.principal) if resource_policy else "direct"
        if how is None or not st.applies(q.action, q.resource, q.context):
            continue
        if st.effect == "Deny":
            deny.append(st.sid)
        elif st.effect == "Allow":
            (direct if how == "direct" else via_account).append(st.sid)
    return deny, direct, via_account


def _constraints_hold(constraints: dict | None, context: dict) -> bool:
    prefix = "kms:encryptioncontext:"
    given = {k[len(prefix):]: v[0] for k, v in context.items() if k.startswith(prefix) and v}
    subset = (constraints or {}).get("EncryptionContextSubset")
    equals = (constraints or {}).get("EncryptionContextEquals")
    if subset is not None and any(given.get(k.lower()) != v for k, v in subset.items()):
        return False
    return equals is None or {k.lower(): v for k, v in equals.items()} == given


def granted(q: Question) -> list[str]:
    """The KMS grants that give the caller this operation on the key ("grant:ID")."""
    operation = q.action.split(":", 1)[-1]
    return [f"grant:{g.get('GrantId')}" for g in q.grants
            if g.get("GranteePrincipal") in (q.principal.arn, q.principal.principal_arn)
            and operation in (g.get("Operations") or []) and _constraints_hold(g.get("Constraints"), q.context)]


def decide(q: Question) -> Decision:
    idn_deny, idn_allow, _ = _scan(statements_of(q.principal.identity_policies), q, resource_policy=False)
    res_deny, res_direct, res_account = _scan(statements_of([q.resource_policy]), q, resource_policy=True)
    end_deny, end_allow, end_account = ([], [], []) if q.endpoint_policy is None else \
        _scan(statements_of([q.endpoint_policy]), q, resource_policy=True)
    denied = [f"identity:{s}" for s in idn_deny] + [f"resource:{s}" for s in res_deny] + [f"endpoint:{s}" for s in end_deny]
    if denied:
        return Decision(EXPLICIT_DENY, tuple(denied), "an explicit deny")
    if q.endpoint_policy is not None and not (end_allow or end_account):
        return Decision(IMPLICIT_DENY, (), "no VPC endpoint policy allows")
    same_account = q.resource_account in (None, q.principal.account)
    identity = [f"identity:{s}" for s in idn_allow]
    direct = [f"resource:{s}" for s in res_direct]
    delegated = [f"resource:{s}" for s in res_account]
    if q.resource_kind in (KMS_KEY, ROLE_TRUST):
        # The key policy / trust policy must allow; naming only the account hands over to identity policies.
        if same_account and direct:
            return Decision(ALLOW, tuple(direct))
        by_grant = granted(q) if q.resource_kind == KMS_KEY else []
        if by_grant and (same_account or identity):
            return Decision(ALLOW, tuple(by_grant + identity))
        if (direct or delegated) and identity:
            return Decision(ALLOW, tuple(direct + delegated + identity))
        which = "key policy" if q.resource_kind == KMS_KEY else "trust policy"
        if not (direct or delegated):
            return Decision(IMPLICIT_DENY, (), f"no {which} allows")
        return Decision(IMPLICIT_DENY, (), "no identity-based policy allows")
    if same_account:
        if identity or direct:
            return Decision(ALLOW, tuple(identity + direct))
        return Decision(IMPLICIT_DENY, (), "no identity-based policy allows")
    if not identity:
        return Decision(IMPLICIT_DENY, (), "no identity-based policy allows")
    if not (direct or delegated):
        return Decision(IMPLICIT_DENY, (), "no resource-based policy allows")
    return Decision(ALLOW, tuple(identity + direct + delegated))
