"""doctor's `iam.simulate`: what IAM decides for the access role on each hop, asked the way AWS accepts.

SimulatePrincipalPolicy with a role as PolicySourceArn accepts no ResourcePolicy without a user CallerArn, and
CallerArn may only be a user (IAM API reference, SimulatePrincipalPolicy / CallerArn,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html): a request with the secret's
policy and no CallerArn is InvalidInput, so on AWS the simulation never ran. So doctor:
1. simulates the role's identity policies only, with the condition keys the real request carries (`kms:ViaService`
   for the decrypt Secrets Manager makes; `aws:SourceVpce` for the rds-data call of a `--require-private-path`
   deployment, which runs only through its endpoint);
2. evaluates the resource policies it reads itself (the secret's and the key's) with AWS's single-account logic
   (an explicit deny wins; a KMS key policy must allow, directly or by naming the account) — the sandbox's evaluator,
   xacct_dataapi/policy_eval/decide.py, which is pure Python and cites its rules.
"""
from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from xacct_dataapi.doctor import reads
from xacct_dataapi.doctor.chain import Chain
from xacct_dataapi.doctor.model import FAIL, OK, SKIPPED, Check
from xacct_dataapi.aws import is_access_denied
from xacct_dataapi.errors import error_message
from xacct_dataapi.models import Account

P = Account.PROVIDER.value
DOCTOR_GRANTS = "xacct permissions --side provider --for doctor"  # what grants doctor's provider reads


def _entry(key: str, value: str) -> dict:
    return {"ContextKeyName": key, "ContextKeyType": "string", "ContextKeyValues": [value]}


def _endpoint_id(chain: Chain) -> str | None:
    if chain.state is not None and chain.state.values.get("endpoint_id"):
        return str(chain.state.values["endpoint_id"])
    return chain.endpoint.get("VpcEndpointId") if chain.endpoint else None


def asks(chain: Chain) -> list[tuple[str, str, list[dict], Any, str]]:
    """(action, resource, context entries, resource policy, kind) for each hop the access role's session takes."""
    private = bool(chain.state is not None and chain.state.config.get("require_private_path"))
    vpce = _endpoint_id(chain) if private else None
    via = _entry("kms:ViaService", f"secretsmanager.{chain.region}.amazonaws.com")
    out = [("rds-data:ExecuteStatement", chain.cluster_arn, [_entry("aws:SourceVpce", vpce)] if vpce else [], None, "other"),
           ("secretsmanager:GetSecretValue", chain.secret_arn, [], chain.secret_policy, "other")]
    if chain.key_arn:
        out.append(("kms:Decrypt", chain.key_arn, [via, _entry("kms:CallerAccount", chain.provider_account)],
                    chain.key_policy, "kms-key"))
    return out


def resource_side(chain: Chain, role: str, action: str, resource: str, entries: list[dict], policy: Any,
                  kind: str, identity_allows: bool) -> tuple[str, tuple[str, ...]]:
    """The decision once the resource's own policy is added to what the identity simulation said."""
    from xacct_dataapi.policy_eval.decide import Principal, Question, decide

    session = f"arn:aws:sts::{chain.provider_account}:assumed-role/{role.rsplit('/', 1)[-1]}/xacct"
    identity = ({"Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]},) if identity_allows else ()
    context = {e["ContextKeyName"].lower(): e["ContextKeyValues"] for e in entries} | {
        "aws:principalarn": [role], "aws:principalaccount": [chain.provider_account], "aws:principaltype": ["AssumedRole"]}
    if isinstance(policy, dict):
        policy = json.dumps(policy)
    d = decide(Question(Principal(session, chain.provider_account, role, identity), action, resource, context,
                        chain.provider_account, policy or None, kind))
    return d.decision, d.matched


def simulate_check(chain: Chain) -> Check:
    cid, link = "iam.simulate", "iam evaluation"
    if not (chain.role and chain.cluster_arn and chain.secret_arn):
        return Check(cid, link, P, SKIPPED, "needs the access role, the cluster and the secret")
    role = chain.role["Arn"]
    denied, seen = [], []
    for action, resource, entries, policy, kind in asks(chain):
        try:
            result = reads.simulate(chain.aws, role, action, resource, entries)
        except (NotImplementedError, ResponseParserError):
            # moto in-process raises NotImplementedError; a moto server without xacct's sandbox an HTML 500 page.
            return Check(cid, link, P, SKIPPED, "iam:SimulatePrincipalPolicy is not available here (plain moto does "
                         "not implement it); the live check tests the path instead")
        except ClientError as exc:
            if is_access_denied(exc):
                # The operator's permissions, not the chain: skipped (nothing shown broken), saying what to grant.
                return Check(cid, link, P, SKIPPED, f"not checked: the provider profile may not call "
                             f"iam:SimulatePrincipalPolicy on {role} ({error_message(exc)}); grant "
                             f"it with `{DOCTOR_GRANTS}`", f"Attach `{DOCTOR_GRANTS}` to the provider profile.")
            return Check(cid, link, P, SKIPPED, f"iam:SimulatePrincipalPolicy unavailable: {error_message(exc)}")
        decision = result.get("EvalDecision")
        matched = tuple(m.get("SourcePolicyId") for m in result.get("MatchedStatements", []) if m.get("SourcePolicyId"))
        where = "identity policy"
        if decision == "allowed" or policy:
            final, by_resource = resource_side(chain, role, action, resource, entries, policy, kind, decision == "allowed")
            if final != "allowed" and (decision == "allowed" or final == "explicitDeny"):
                decision, matched = final, tuple(m.split(":", 1)[1] for m in by_resource)
                where = "secret policy" if action.startswith("secretsmanager") else "key policy"
        seen.append(f"{action} on {resource}: {decision}")
        if decision != "allowed":
            denied.append(f"{action} on {resource}: {decision} by the {where}" +
                          (f" (matched {', '.join(matched)})" if matched else ""))
    if denied:
        return Check(cid, link, P, FAIL, f"IAM evaluates the access role {role}: " + "; ".join(denied),
                     chain.setup_fix() + "; check SCPs and permission boundaries if the documents are xacct's")
    return Check(cid, link, P, OK, f"access role {role}: " + "; ".join(seen))
