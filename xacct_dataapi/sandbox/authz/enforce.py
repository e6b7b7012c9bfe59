"""Authorization in front of every moto request, as AWS evaluates it (decide.py), installed into moto's request path.

moto's own enforcement (`INITIAL_NO_AUTH_ACTION_COUNT`) checks identity policies on `"*"` only and no resource
policy (docs/sandbox.md). `install()` replaces it for the process: with `enabled`, each request's caller is found
from its access key (a minted user key, or an assumed-role session) and its SigV4 signature checked against that
key's secret (caller.signature_matches), the request's resources from resources.py, and
each (action, resource) is decided against the caller's identity policies and the resource's policy. A denial is
answered with the service's own error code (`AccessDenied` for IAM/STS, `UnauthorizedOperation` for EC2,
`AccessDeniedException` for the JSON services), serialized by moto for that service's protocol.

The Data API path as AWS runs it: the caller needs rds-data on the cluster (through the VPC endpoint's policy when
the request comes from inside the VPC, private.py); then the Data API reads the secret with the caller's identity (a
forward access session), so the secret policy and the caller's identity policies both apply, and Secrets Manager
decrypts with KMS as the caller with `kms:ViaService` set. A failure there is answered as rds-data's
AccessDeniedException naming the secret or the key.
"""
from __future__ import annotations

import threading
import warnings
from typing import Any

from xacct_dataapi.sandbox import MOTO_LOCK
from xacct_dataapi.policy_eval.decide import EXPLICIT_DENY, Decision, Principal, Question, decide
from xacct_dataapi.sandbox.authz.resources import Target, secret_target, via_secretsmanager
from xacct_dataapi.sandbox.authz.caller import Refusal as _Refusal, identity_policies, request_params, signature_matches
from xacct_dataapi.sandbox.authz.resources_net import resolve

ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}  # "No permissions are required" (API_GetCallerIdentity)
_SIGNING_TO_PREFIX = {"tagging": "tag"}
_DENIED_CODE = {"iam": "AccessDenied", "sts": "AccessDenied", "ec2": "UnauthorizedOperation", "rds": "AccessDenied"}

SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
                      "AWS Secret Access Key and signing method. Consult the service documentation for details.")
_lock = threading.Lock()
_state: dict[str, Any] = {"installed": None, "enabled": False, "decisions": 0}


def signing_service(headers: Any) -> str | None:
    auth = headers.get("Authorization") or ""
    if "Credential=" not in auth:
        return None
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope[3] if len(scope) > 3 else None


def _access_key_id(headers: Any) -> str | None:
    auth = headers.get("Authorization") or ""
    if "Credential=" not in auth:
        return None
    return auth.split("Credential=", 1)[1].split("/", 1)[0]


def identify(account: str, headers: Any) -> Principal:
    """The caller of a request, from its access key (as moto maps keys: users' keys and assumed-role sessions)."""
    from moto.iam.access_control import AssumedRoleAccessKey, CreateAccessKeyFailure, create_access_key
    from moto.iam.models import iam_backends

    key_id = _access_key_id(headers)
    try:
        key = create_access_key(account_id=account, partition="aws", access_key_id=key_id or "", headers=headers)
    except CreateAccessKeyFailure:
        raise _Refusal("InvalidClientTokenId", "The security token included in the request is invalid.") from None
    try:
        if isinstance(key, AssumedRoleAccessKey):
            role = iam_backends[account]["aws"].get_role(key._owner_role_name)
            return Principal(key.arn, account, role.arn, identity_policies(account, "role", key._owner_role_name))
        user = iam_backends[account]["aws"].get_user(key._owner_user_name)
        return Principal(user.arn, account, user.arn, identity_policies(account, "user", key._owner_user_name))
    except Exception:  # the role or user was deleted since: its keys and sessions no longer work
        raise _Refusal("InvalidClientTokenId", "The security token included in the request is invalid.") from None


def base_context(who: Principal, region: str, prefix: str) -> dict:
    ctx = {"aws:principalarn": [who.principal_arn], "aws:principalaccount": [who.account],
           "aws:principaltype": [who.kind], "aws:requestedregion": [region], "aws:securetransport": ["true"]}
    if who.kind == "User":
        ctx["aws:username"] = [who.arn.rsplit("/", 1)[-1]]
    if prefix == "kms":
        ctx["kms:calleraccount"] = [who.account]
    return ctx


def message(who: Principal, action: str, resource: str, decision: Decision) -> str:
    if decision.decision == EXPLICIT_DENY:
        where = "a resource-based policy" if any(m.startswith("resource:") for m in decision.matched) else \
            "a VPC endpoint policy" if any(m.startswith("endpoint:") for m in decision.matched) else \
            "an identity-based policy"
        why = f"with an explicit deny in {where}"
    else:
        why = f"because {decision.reason.replace('allows', f'allows the {action} action')}"
    return f"User: {who.arn} is not authorized to perform: {action} on resource: {resource} {why}"


def check(who: Principal, action: str, targets: list[Target], base: dict, endpoint_policy: Any = None) -> None:
    for t in targets:
        act = t.action or action
        q = Question(who, act, t.resource, base | t.context, t.account, t.policy, t.kind,
                     endpoint_policy if act.startswith("rds-data:") else None, t.grants)
        decision = decide(q)
        _state["decisions"] += 1
        if not decision.allowed:
            raise _Refusal(*t.refusal) if t.refusal else _Refusal("", message(who, act, t.resource, decision))


def forward_secret_read(who: Principal, params: dict, region: str) -> None:
    """The Data API's read of the secret as the caller (forward access session), and its KMS decrypt."""
    secret_arn = str(params.get("secretArn") or "")
    via = {"aws:viaawsservice": ["true"], "aws:calledvia": ["rds-data.amazonaws.com"]}
    base = base_context(who, region, "secretsmanager") | via
    target, secret = secret_target(who.account, region, secret_arn)
    check(who, "secretsmanager:GetSecretValue", [target], base)
    key_id = getattr(secret, "kms_key_id", None) if secret is not None else None
    if key_id:
        from xacct_dataapi.sandbox.authz.resources import key_target, secret_encryption_context

        account = target.account or who.account
        kms = key_target(account, target.resource.split(":")[3], str(key_id),
                         via_secretsmanager(region, who.account) | secret_encryption_context(secret))
        check(who, "kms:Decrypt", [kms], base_context(who, region, "kms") | kms.context)


def _missing_token_code(resp: Any) -> str:
    """MissingAuthenticationToken, with JSON services' `Exception` suffix (AWS's common errors)."""
    from moto.core.responses import get_service_model

    try:
        protocol = get_service_model(resp.boto3_service_name).protocol
    except Exception:
        protocol = "query"
    return "MissingAuthenticationToken" + ("Exception" if "json" in protocol else "")


def authorize(resp: Any) -> None:
    """Raise _Refusal unless AWS would let this request's caller make it."""
    from xacct_dataapi.sandbox.authz import private

    service = signing_service(resp.headers)
    op = resp._get_action()
    if not op:
        return  # not an operation of the service's model: moto answers it as unknown
    if not service:  # unsigned (or signed in the query string, which the sandbox does not read): AWS refuses it
        raise _Refusal(_missing_token_code(resp), "Request is missing Authentication Token")
    prefix = _SIGNING_TO_PREFIX.get(service, service)
    action = f"{prefix}:{op}"
    who = identify(resp.current_account, resp.headers)  # an unknown key is refused even GetCallerIdentity
    if not signature_matches(resp, private.signed_path(resp.headers, resp.raw_path)):
        raise _Refusal("AuthFailure" if prefix == "ec2" else "SignatureDoesNotMatch", SIGNATURE_MISMATCH)
    if action in ALWAYS_ALLOWED:
        return
    params = request_params(resp)
    targets = resolve(prefix, op, params, resp.current_account, resp.region)
    base = base_context(who, resp.region, prefix)
    endpoint_policy = None
    if prefix == "rds-data":
        path = private.path_of(resp.headers, resp.region)
        base |= path.context
        endpoint_policy = path.endpoint_policy
    try:
        check(who, action, targets, base, endpoint_policy)
    except _Refusal as refusal:
        refusal.code = refusal.code or _DENIED_CODE.get(prefix, "AccessDeniedException")
        raise
    if prefix == "rds-data" and op in ("ExecuteStatement", "BatchExecuteStatement", "BeginTransaction"):
        try:
            forward_secret_read(who, params, resp.region)
        except _Refusal as refusal:
            # rds-data reports every problem with the secret (not found, cannot decrypt) as SecretsErrorException
            # (botocore rds-data model); the IAM message says which read was refused.
            refusal.code = "SecretsErrorException"
            raise


def authorize_s3(resp: Any, bucket_name: str | None, key_name: str | None) -> bool:
    """An S3 request decided (authz/s3.py) while enabled: raises moto's S3 AccessDenied if AWS would refuse it."""
    from moto.s3.exceptions import S3ClientError

    from xacct_dataapi.sandbox.authz import private, s3

    action = s3.action_of(resp)
    if not _state["enabled"]:
        return False
    if action is None:
        return True
    try:
        if signing_service(resp.headers) != "s3":  # anonymous: no bucket of the sandbox's is public
            raise _Refusal("AccessDenied", "Access Denied")
        with MOTO_LOCK:  # it reads IAM's backend, which another request may be changing
            who = identify(resp.current_account, resp.headers)
            if not signature_matches(resp, private.signed_path(resp.headers, resp.raw_path), s3=True):
                raise _Refusal("SignatureDoesNotMatch", SIGNATURE_MISMATCH)
            targets = s3.targets(resp, action, bucket_name, key_name)
            if targets is not None:
                check(who, action, targets, base_context(who, resp.region, "s3"))
    except _Refusal as refusal:
        code = refusal.code if refusal.code in ("InvalidClientTokenId", "SignatureDoesNotMatch") else "AccessDenied"
        raise S3ClientError(code, refusal.message) from None
    return True


def install() -> None:
    """Put `authorize` in moto's request path (idempotent); it decides only while enabled."""
    from moto.core.responses import BaseResponse

    from xacct_dataapi.sandbox.authz import s3, simulate

    with _lock:
        simulate.install()
        s3.install(authorize_s3)  # moto's S3 asks for authorization outside call_action
        if _state["installed"] is not None:
            return
        original = BaseResponse.call_action
        _state["installed"] = original

        def call_action(self: Any) -> Any:
            if _state["enabled"]:
                try:
                    with MOTO_LOCK:  # it reads IAM's backend, which another request may be changing
                        authorize(self)
                except _Refusal as refusal:
                    from moto.core.exceptions import ServiceException
                    from moto.core.responses import ActionResult

                    error = ServiceException(refusal.code, refusal.message)
                    with warnings.catch_warnings():  # moto warns when a code is not in the service's error shapes
                        warnings.simplefilter("ignore", UserWarning)
                        status, headers, body = self.serialized(ActionResult(error))
                    if status < 400:
                        status = 403
                    headers["status"] = status
                    return status, headers, body
            return original(self)

        BaseResponse.call_action = call_action  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.core.responses import BaseResponse

    from xacct_dataapi.sandbox.authz import s3, simulate

    with _lock:
        simulate.uninstall()
        s3.uninstall()
        if _state["installed"] is not None:
            BaseResponse.call_action = _state["installed"]  # type: ignore[method-assign]
            _state["installed"] = None
        _state["enabled"] = False


def enable(on: bool = True) -> None:
    install()
    _state["enabled"] = on


def enabled() -> bool:
    return bool(_state["enabled"])
