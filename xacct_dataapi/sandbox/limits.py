"""AWS's limits and uniqueness rules that xacct's calls can hit, enforced in the sandbox with AWS's error code and
message shape (moto 5.2 enforces none of these, or only part: docs/aws-facts.md, "Limits and uniqueness rules",
lists each rule, its source and what moto did without this module).

Patched into moto's response classes, so the rule holds for the sandbox's server and for the in-process `mock_aws`
the test suite uses alike (`install()` is idempotent; `uninstall()` restores moto). Each check runs before moto
changes anything, so a refused request leaves nothing half-made (moto adds a new resource's tags one at a time:
its own 50-tag check would fail after the resource and 50 of its tags exist).
"""
from __future__ import annotations

import json
import re
import threading
from typing import Any, Callable

from xacct_dataapi.sandbox import MOTO_LOCK, restore_patches

# AWS PrivateLink quotas: "Characters per VPC endpoint policy: 20,480 (including white space)", not adjustable.
ENDPOINT_POLICY_MAX = 20_480
# EC2 user guide, "Tag your Amazon EC2 resources", tag restrictions.
EC2_TAGS_PER_RESOURCE = 50
EC2_TAG_KEY_MAX = 128
EC2_TAG_VALUE_MAX = 256
# IAM and AWS STS quotas: names, paths and policy sizes (IAM counts a policy without white space).
IAM_ROLE_NAME_MAX = 64
IAM_USER_NAME_MAX = 64
IAM_POLICY_NAME_MAX = 128
IAM_PATH_MAX = 512
IAM_TRUST_POLICY_MAX = 2_048  # "Role trust policy length" (adjustable up to 4,096; the default is what xacct meets)
IAM_ROLE_INLINE_MAX = 10_240  # "Role policy size": all inline policies of a role together
IAM_USER_INLINE_MAX = 2_048  # "User policy size": all inline policies of a user together
# KMS API reference, CreateAlias: AliasName 1-256 characters; the prefix alias/aws/ is reserved for AWS managed keys.
KMS_ALIAS_MAX = 256
# KMS API reference, ListAliases: at most Limit aliases a page (1-100, default 50), then Truncated and NextMarker.
KMS_ALIASES_PAGE, KMS_ALIASES_PAGE_MAX = 50, 100

_PRIVATE_DNS_LIVE = ("pendingacceptance", "pending", "available", "modifying")
_saved: list[tuple[Any, str, Any]] = []
_install_lock = threading.Lock()


def iam_size(document: Any) -> int:
    """A policy's size as IAM counts it: its characters without white space."""
    text = document if isinstance(document, str) else json.dumps(document)
    return len(re.sub(r"\s", "", text or ""))


def _patch(cls: Any, name: str, guard: Callable[[Any], None]) -> None:
    """Run `guard(response)` before moto's handler `name`; a guard refuses by raising AWS's error."""
    original = getattr(cls, name)
    _saved.append((cls, name, cls.__dict__.get(name)))

    def handler(self: Any, *args: Any, **kwargs: Any) -> Any:
        guard(self)
        return original(self, *args, **kwargs)

    handler.__name__ = name
    setattr(cls, name, handler)


# --- EC2: tags, the endpoint policy, one private-DNS endpoint per service per VPC ------------------------------------

def _ec2_error(code: str, message: str) -> Exception:
    from moto.ec2.exceptions import EC2ClientError

    return EC2ClientError(code, message)


def check_ec2_tags(tags: list[dict], existing: dict[str, str] | None = None) -> None:
    for tag in tags:
        key, value = str(tag.get("Key", "")), str(tag.get("Value", "") or "")
        if len(key) > EC2_TAG_KEY_MAX:
            raise _ec2_error("InvalidParameterValue",
                             f"Tag key exceeds the maximum length of {EC2_TAG_KEY_MAX} characters: {key!r}")
        if len(value) > EC2_TAG_VALUE_MAX:
            raise _ec2_error("InvalidParameterValue",
                             f"Tag value exceeds the maximum length of {EC2_TAG_VALUE_MAX} characters: {value!r}")
    keys = {k for k in (existing or {}) if not k.startswith("aws:")}
    keys |= {str(t.get("Key")) for t in tags if not str(t.get("Key")).startswith("aws:")}
    if len(keys) > EC2_TAGS_PER_RESOURCE:
        raise _ec2_error("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")


def _tag_specification_tags(response: Any) -> list[dict]:
    specs = response._get_param("TagSpecifications", []) or response._get_param("TagSpecification", []) or []
    return [t for spec in (specs if isinstance(specs, list) else [specs]) for t in spec.get("Tags", spec.get("Tag", []))]


def _check_create_tags(response: Any) -> None:
    tags = response._get_param("Tags", []) or []
    for resource_id in response._get_param("Resources", []) or []:
        check_ec2_tags(tags, response.ec2_backend.tags.get(resource_id, {}))


def _check_tag_specifications(response: Any) -> None:
    check_ec2_tags(_tag_specification_tags(response))


def check_endpoint_policy(document: Any) -> None:
    if document is not None and len(str(document)) > ENDPOINT_POLICY_MAX:
        raise _ec2_error("InvalidParameter", f"Policy document exceeds the maximum length of {ENDPOINT_POLICY_MAX} "
                                             f"characters (it has {len(str(document))}).")


def _conflicting_dns(backend: Any, vpc_id: str, service_name: str, other_than: str | None = None) -> str | None:
    for endpoint in backend.vpc_end_points.values():
        if (endpoint.vpc_id == vpc_id and endpoint.service_name == service_name and endpoint.id != other_than
                and getattr(endpoint, "private_dns_enabled", False)
                and str(endpoint.state).lower() in _PRIVATE_DNS_LIVE):
            return endpoint.id
    return None


def _dns_domain(service_name: str) -> str:
    parts = service_name.split(".")  # com.amazonaws.<region>.<service> -> <service>.<region>.amazonaws.com
    return f"{'.'.join(parts[3:])}.{parts[2]}.amazonaws.com" if len(parts) >= 4 else service_name


def _conflict_error(service_name: str, vpc_id: str) -> Exception:
    return _ec2_error("InvalidParameter", "private-dns-enabled cannot be set because there is already a conflicting "
                                          f"DNS domain for {_dns_domain(service_name)} in the VPC {vpc_id}")


def _wants_private_dns(response: Any, default: bool) -> bool:
    value = response._get_param("PrivateDnsEnabled")
    return default if value is None else str(value).lower() == "true"


def _check_create_endpoint(response: Any) -> None:
    _check_tag_specifications(response)
    check_endpoint_policy(response._get_param("PolicyDocument"))
    vpc_id, service = response._get_param("VpcId"), response._get_param("ServiceName")
    # AWS's default for an interface endpoint to an AWS service is private DNS on.
    interface = str(response._get_param("VpcEndpointType") or "Gateway").lower() == "interface"
    if interface and _wants_private_dns(response, True) and _conflicting_dns(response.ec2_backend, vpc_id, service):
        raise _conflict_error(service, vpc_id)


def _check_modify_endpoint(response: Any) -> None:
    check_endpoint_policy(response._get_param("PolicyDocument"))
    endpoint = response.ec2_backend.vpc_end_points.get(response._get_param("VpcEndpointId"))
    if endpoint is not None and _wants_private_dns(response, False) and not endpoint.private_dns_enabled \
            and _conflicting_dns(response.ec2_backend, endpoint.vpc_id, endpoint.service_name, endpoint.id):
        raise _conflict_error(endpoint.service_name, endpoint.vpc_id)


def _ec2_patches() -> None:
    from moto.ec2.responses import EC2Response

    _patch(EC2Response, "create_tags", _check_create_tags)
    for name in ("create_security_group", "create_vpc", "create_subnet"):
        if hasattr(EC2Response, name):
            _patch(EC2Response, name, _check_tag_specifications)

    _patch(EC2Response, "create_vpc_endpoint", _check_create_endpoint)
    _patch(EC2Response, "modify_vpc_endpoint", _check_modify_endpoint)

    # AWS creates an endpoint with its TagSpecifications in one step, where moto lists the endpoint and then adds the
    # tags one by one; the private-DNS check and its create are one step too. Both hold because every request runs
    # under MOTO_LOCK (_one_request_at_a_time).


def _one_request_at_a_time() -> None:
    """Every moto request under MOTO_LOCK but the Data API's, which takes it only for its reads of moto (the sandbox
    package says why)."""
    from moto.core.responses import BaseResponse

    original = BaseResponse._dispatch
    _saved.append((BaseResponse, "_dispatch", BaseResponse.__dict__.get("_dispatch")))

    def _dispatch(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "service_name", None) == "rds-data":
            return original(self, *args, **kwargs)
        with MOTO_LOCK:
            return original(self, *args, **kwargs)

    setattr(BaseResponse, "_dispatch", _dispatch)


# --- IAM: names, paths, policy sizes ------------------------------------------------------------------------------

def _iam_validation(value: str, member: str, limit: int) -> Exception:
    from moto.iam.exceptions import ValidationError

    return ValidationError(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                           f"Member must have length less than or equal to {limit}")


def _limit_exceeded(message: str) -> Exception:
    from moto.iam.exceptions import LimitExceededException

    return LimitExceededException(message)


def _check_length(response: Any, param: str, member: str, limit: int) -> None:
    value = response._get_param(param)
    if value is not None and len(str(value)) > limit:
        raise _iam_validation(str(value), member, limit)


def _check_trust(response: Any, param: str) -> None:
    if iam_size(response._get_param(param)) > IAM_TRUST_POLICY_MAX:
        raise _limit_exceeded(f"Cannot exceed quota for ACLSizePerRole: {IAM_TRUST_POLICY_MAX}")


def _inline_total(backend: Any, entity: str, name: str, policy_name: str, document: str) -> int:
    getter = backend.get_role if entity == "role" else backend.get_user
    try:
        principal = getter(name)
    except Exception:  # noqa: BLE001 - moto answers NoSuchEntity itself
        return 0
    others = {k: v for k, v in dict(getattr(principal, "policies", {}) or {}).items() if k != policy_name}
    return sum(iam_size(v) for v in others.values()) + iam_size(document)


def _check_inline(entity: str, limit: int) -> Callable[[Any], None]:
    def guard(response: Any) -> None:
        key = "RoleName" if entity == "role" else "UserName"
        _check_length(response, "PolicyName", "policyName", IAM_POLICY_NAME_MAX)
        name, policy_name = response._get_param(key), response._get_param("PolicyName")
        if _inline_total(response.backend, entity, name, policy_name, response._get_param("PolicyDocument")) > limit:
            raise _limit_exceeded(f"Maximum policy size of {limit} bytes exceeded for {entity} {name}")
    return guard


def _iam_patches() -> None:
    from moto.iam.responses import IamResponse

    def create_role(response: Any) -> None:
        _check_length(response, "RoleName", "roleName", IAM_ROLE_NAME_MAX)
        _check_length(response, "Path", "path", IAM_PATH_MAX)
        _check_trust(response, "AssumeRolePolicyDocument")

    def create_user(response: Any) -> None:
        _check_length(response, "UserName", "userName", IAM_USER_NAME_MAX)
        _check_length(response, "Path", "path", IAM_PATH_MAX)

    _patch(IamResponse, "create_role", create_role)
    _patch(IamResponse, "create_user", create_user)
    _patch(IamResponse, "update_assume_role_policy", lambda r: _check_trust(r, "PolicyDocument"))
    _patch(IamResponse, "put_role_policy", _check_inline("role", IAM_ROLE_INLINE_MAX))
    _patch(IamResponse, "put_user_policy", _check_inline("user", IAM_USER_INLINE_MAX))


# --- Secrets Manager and KMS: names ---------------------------------------------------------------------------------

def _check_secret_name(response: Any) -> None:
    from moto.secretsmanager.exceptions import InvalidRequestException

    existing = response.backend.secrets.get(response._get_param("Name"))
    if existing is not None and getattr(existing, "deleted_date", None) is not None:
        # API_CreateSecret: a name scheduled for deletion cannot be reused until the deletion completes.
        raise InvalidRequestException("You can't create this secret because a secret with this name is already "
                                      "scheduled for deletion.")


def _check_alias(response: Any) -> None:
    from moto.kms.exceptions import NotAuthorizedException, ValidationException

    name = str(response._get_param("AliasName") or "")
    if len(name) > KMS_ALIAS_MAX:
        raise ValidationException(f"1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy "
                                  f"constraint: Member must have length less than or equal to {KMS_ALIAS_MAX}")
    if name.startswith("alias/aws/"):
        raise NotAuthorizedException()


def _current_follows_its_label() -> None:
    """GetSecretValue without a stage returns the version labelled AWSCURRENT (API_GetSecretValue). moto answers from
    its own default_version_id, which UpdateSecretVersionStage does not move: after a rotation protocol's last step,
    moto (and every reader of AWSCURRENT, the Data API included) would go on returning the old password."""
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage
    _saved.append((SecretsManagerBackend, "update_secret_version_stage",
                   SecretsManagerBackend.__dict__.get("update_secret_version_stage")))

    def update_secret_version_stage(self: Any, secret_id: str, version_stage: str, remove_from_version_id: str,
                                    move_to_version_id: str) -> Any:
        answer = original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].default_version_id = move_to_version_id
        return answer

    setattr(SecretsManagerBackend, "update_secret_version_stage", update_secret_version_stage)


def _page_aliases() -> None:
    """ListAliases in pages, as AWS answers it (moto answers every alias at once): a reader that does not follow
    NextMarker misses the aliases after the first page."""
    from moto.kms.exceptions import ValidationException
    from moto.kms.responses import KmsResponse

    original = KmsResponse.list_aliases
    _saved.append((KmsResponse, "list_aliases", KmsResponse.__dict__.get("list_aliases")))

    def list_aliases(self: Any) -> str:
        limit = int(self._get_param("Limit") or KMS_ALIASES_PAGE)
        if not 1 <= limit <= KMS_ALIASES_PAGE_MAX:
            raise ValidationException(f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
                                      f"constraint: Member must have value between 1 and {KMS_ALIASES_PAGE_MAX}")
        aliases = json.loads(original(self))["Aliases"]
        start = int(self._get_param("Marker") or 0)
        more = start + limit < len(aliases)
        return json.dumps({"Aliases": aliases[start:start + limit], "Truncated": more,
                           **({"NextMarker": str(start + limit)} if more else {})})

    setattr(KmsResponse, "list_aliases", list_aliases)


def _secrets_kms_patches() -> None:
    from moto.kms.responses import KmsResponse
    from moto.secretsmanager.responses import SecretsManagerResponse

    _current_follows_its_label()
    _patch(SecretsManagerResponse, "create_secret", _check_secret_name)
    _patch(KmsResponse, "create_alias", _check_alias)
    _patch(KmsResponse, "update_alias", _check_alias)
    # AWS: NotFoundException for a key that is gone; moto 5.2 answered ListGrants with a KeyError (HTTP 500).
    _patch(KmsResponse, "list_grants", lambda response: response._validate_cmk_id(response._get_param("KeyId")))
    _page_aliases()


def install() -> None:
    """Patch moto's response classes in this process (idempotent; `uninstall` restores them)."""
    with _install_lock:
        if _saved:
            return
        _one_request_at_a_time()
        _ec2_patches()
        _iam_patches()
        _secrets_kms_patches()
        from xacct_dataapi.sandbox.page_sizes import install_page_sizes

        install_page_sizes(_patch)


def uninstall() -> None:
    with _install_lock:
        restore_patches(_saved)


def installed() -> bool:
    return bool(_saved)
