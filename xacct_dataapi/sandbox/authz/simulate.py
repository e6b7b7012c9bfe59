"""iam:SimulatePrincipalPolicy answered by the sandbox's evaluator (moto 5.2 does not implement it).

Input rules of the IAM API reference (SimulatePrincipalPolicy,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html), each answered with
`InvalidInput` as IAM does:
- PolicySourceArn is a user, group or role ARN;
- with a ResourcePolicy, CallerArn is required unless PolicySourceArn is a user, and CallerArn may only be a user
  ARN ("You cannot specify the ARN of an assumed role, federated user, or a service principal");
- ContextEntries give the condition keys (the simulator fills in none of its own; a key a condition needs and the
  request lacks is listed in MissingContextValues).
The evaluation itself is decide.py's, with the source's identity policies (inline, attached, and for a user its
groups') and, when given, the resource policy with the resource owned by ResourceOwner (default: the source's account).
"""
from __future__ import annotations

import json
import re
from typing import Any

from xacct_dataapi.policy_eval.decide import Principal, Question, decide
from xacct_dataapi.policy_eval.policy import statements_of

_SOURCE = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):(user|group|role)/(?:.*/)?([\w+=,.@-]+)$")


class InvalidInput(Exception):
    pass


def _context(entries: list[dict]) -> dict:
    ctx: dict = {}
    for e in entries or []:
        ctx[str(e.get("ContextKeyName", "")).lower()] = [str(v) for v in e.get("ContextKeyValues", [])]
    return ctx


def _condition_keys(docs: list[Any]) -> set[str]:
    return {key for st in statements_of(docs) for block in (st.condition or {}).values() if isinstance(block, dict)
            for key in block}


def source_policies(arn: str) -> tuple[str, tuple[Any, ...]]:
    from moto.iam.models import iam_backends

    from xacct_dataapi.sandbox.authz.caller import identity_policies, managed as _managed

    m = _SOURCE.match(arn)
    if not m:
        raise InvalidInput(f"Invalid Input: PolicySourceArn {arn} is not the ARN of an IAM user, group or role.")
    account, kind, name = m.groups()
    if kind == "group":
        group = iam_backends[account]["aws"].get_group(name)
        return account, (*group.policies.values(), *_managed(group.managed_policies))
    return account, identity_policies(account, kind, name)


def simulate(params: dict) -> dict:
    source = str(params.get("PolicySourceArn") or "")
    caller = params.get("CallerArn")
    resource_policy = params.get("ResourcePolicy")
    m = _SOURCE.match(source)
    kind = m.group(2) if m else ""
    if resource_policy and kind != "user" and not caller:
        raise InvalidInput("Invalid Input: CallerArn must be specified when a ResourcePolicy is given and "
                           "PolicySourceArn is not an IAM user.")
    if caller and not re.match(r"^arn:aws[\w-]*:iam::\d{12}:user/", str(caller)):
        raise InvalidInput(f"Invalid Input: CallerArn {caller} must be the ARN of an IAM user.")
    if not params.get("ActionNames"):
        raise InvalidInput("Invalid Input: ActionNames must contain at least one action.")
    account, policies = source_policies(source)
    who_arn = str(caller or source)
    who = Principal(who_arn, account, who_arn, policies)
    context = _context(params.get("ContextEntries") or [])
    owner = str(params.get("ResourceOwner") or account)
    owner = owner.split(":")[4] if owner.startswith("arn:") else owner
    needed = _condition_keys([*policies, resource_policy])
    results = []
    for action in params["ActionNames"]:
        for resource in params.get("ResourceArns") or ["*"]:
            d = decide(Question(who, str(action), str(resource), context, owner if resource != "*" else None,
                                resource_policy))
            results.append({
                "EvalActionName": action, "EvalResourceName": resource, "EvalDecision": d.decision,
                "MatchedStatements": [{"SourcePolicyId": m.split(":", 1)[1],
                                       "SourcePolicyType": "resource" if m.startswith("resource:") else "IAM Policy"}
                                      for m in d.matched],
                "MissingContextValues": sorted(k for k in needed if k.lower() not in context),
            })
    return {"EvaluationResults": results, "IsTruncated": False}


def install() -> None:
    """Give moto's IAM a SimulatePrincipalPolicy (idempotent)."""
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse

    if "simulate_principal_policy" in IamResponse.__dict__:
        return

    def simulate_principal_policy(self: Any) -> Any:
        params = self.params if getattr(self, "automated_parameter_parsing", False) else None
        if params is None:
            from xacct_dataapi.sandbox.authz.caller import request_params
            params = request_params(self)
        try:
            return ActionResult(simulate(params))
        except InvalidInput as exc:
            return ActionResult(ServiceException("InvalidInput", str(exc)))
        except json.JSONDecodeError as exc:
            return ActionResult(ServiceException("MalformedPolicyDocument", f"Syntax errors in policy: {exc.msg}"))

    IamResponse.simulate_principal_policy = simulate_principal_policy  # type: ignore[attr-defined]


def uninstall() -> None:
    from moto.iam.responses import IamResponse

    if "simulate_principal_policy" in IamResponse.__dict__:
        del IamResponse.simulate_principal_policy  # type: ignore[attr-defined]
