"""The sandbox's AWS-like behaviour that moto 5.2 lacks, installed in the sandbox's own server process.

Always on (fidelity; docs/moto-gaps.md "The sandbox's realism layer"):

- RDS ``EnableHttpEndpoint`` / ``DisableHttpEndpoint`` (moto: not implemented) switch the Data API of a Serverless v2 or
  provisioned cluster; on a Serverless v1 cluster they answer ``InvalidParameterCombination``, which is
  ModifyDBCluster's flag's domain (AWS: "applies only to Aurora Serverless v2 and provisioned", botocore rds model;
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.differences.html);
- an interface endpoint's network interfaces carry the endpoint's security groups, and ``DeleteSecurityGroup`` answers
  ``DependencyViolation`` while a network interface still uses the group (moto deletes it regardless;
  hashicorp/terraform-provider-aws#43124).

With ``Realism`` durations (``xacct sandbox up --realistic``), the time AWS takes to settle:

- ``latency_ms`` before every request is answered;
- a new interface endpoint is ``pending`` for ``endpoint_pending_s``;
- a new IAM role or user is an invalid principal in a trust, key or secret policy, and AssumeRole on a new role is
  denied, for ``principal_delay_s`` (IAM eventual consistency: "Invalid principal in policy", KMS "invalid
  principals", Secrets Manager "unsupported principal"; docs/aws-facts.md, terraform-provider-aws#14449);
- a deleted endpoint's network interfaces linger for ``eni_linger_s`` (terraform#3758);
- a force-deleted secret's name cannot be reused for ``secret_name_block_s`` ("You can't create this secret because
  a secret with this name is already scheduled for deletion."; API_DeleteSecret, aws/copilot-cli#655);
- the Data API switch takes ``data_api_switch_s`` to show in DescribeDBClusters.

State changes that take time are queued (``_later``) and applied before the next request the server answers.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from xacct_dataapi.sandbox import MOTO_LOCK, restore_patches

_PRINCIPAL_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):(role|user)/(?:[^\s]*/)?([\w+=,.@-]+)$")


@dataclass(frozen=True)
class Realism:
    """How long the sandbox takes to settle (seconds), and its latency per request (ms). All zero: moto's timing."""

    latency_ms: float = 0.0
    endpoint_pending_s: float = 0.0
    principal_delay_s: float = 0.0
    eni_linger_s: float = 0.0
    secret_name_block_s: float = 0.0
    data_api_switch_s: float = 0.0

    @classmethod
    def realistic(cls, latency_ms: float = 60.0, scale: float = 1.0) -> Realism:
        """Durations of the order AWS shows (scaled down by `scale` for tests)."""
        return cls(latency_ms=latency_ms, endpoint_pending_s=20 * scale, principal_delay_s=5 * scale,
                   eni_linger_s=10 * scale, secret_name_block_s=5 * scale, data_api_switch_s=3 * scale)

    @property
    def active(self) -> bool:
        return any(v > 0 for v in self.__dict__.values())

    def to_json(self) -> dict:
        return dict(self.__dict__)


class _World:
    """What the realism layer remembers: when principals were created, blocked secret names, queued changes."""

    def __init__(self, realism: Realism) -> None:
        self.realism = realism
        self.lock = threading.Lock()
        self.principals: dict[tuple[str, str, str], float] = {}  # (account, role|user, name) -> created
        self.blocked_names: dict[tuple[str, str, str], float] = {}  # (account, region, name) -> until
        self.due: list[tuple[float, Callable[[], None]]] = []
        self.events: Counter[str] = Counter()  # answers that differed from moto's, by kind

    def later(self, delay: float, change: Callable[[], None]) -> None:
        if delay <= 0:
            change()
            return
        with self.lock:
            self.due.append((time.monotonic() + delay, change))

    def run_due(self) -> None:
        now = time.monotonic()
        with self.lock:
            ready = [c for t, c in self.due if t <= now]
            self.due = [(t, c) for t, c in self.due if t > now]
        with MOTO_LOCK:  # a change edits moto's backends, as a request does
            for change in ready:
                change()

    def young_principals(self, document: Any) -> list[str]:
        """ARNs of IAM roles/users in the policy's Principal elements that IAM does not resolve yet."""
        try:
            doc = json.loads(document) if isinstance(document, str) else document
        except ValueError:
            return []
        found = []
        statements = doc.get("Statement", []) if isinstance(doc, dict) else []
        for st in statements if isinstance(statements, list) else [statements]:
            principal = st.get("Principal") if isinstance(st, dict) else None
            arns = principal.get("AWS", []) if isinstance(principal, dict) else []
            for arn in [arns] if isinstance(arns, str) else arns:
                m = _PRINCIPAL_ARN.match(str(arn))
                if m and self.is_young(m.group(1), m.group(2), m.group(3)):
                    found.append(str(arn))
        return found

    def is_young(self, account: str, kind: str, name: str) -> bool:
        created = self.principals.get((account, kind, name))
        return created is not None and time.monotonic() - created < self.realism.principal_delay_s


_world: _World | None = None
_saved: list[tuple[Any, str, Any]] = []
_install_lock = threading.Lock()


def _patch(cls: Any, name: str, make: Callable[[Any], Any]) -> None:
    _saved.append((cls, name, cls.__dict__.get(name)))  # None: inherited (restored by deleting the override)
    setattr(cls, name, make(getattr(cls, name, None)))


def _rds_patches() -> None:
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import DBClusterNotFoundError, InvalidParameterCombination
    from moto.rds.responses import RDSResponse

    def switch(on: bool) -> Callable[[Any], Any]:
        def make(_original: Any) -> Any:
            def handler(self: Any) -> Any:
                arn = self._get_param("ResourceArn")
                cluster = next((c for c in self.backend.clusters.values() if c.db_cluster_arn == arn), None)
                if cluster is None:
                    raise DBClusterNotFoundError(arn, f"DBCluster {arn} not found.")
                if cluster.engine_mode == "serverless":
                    raise InvalidParameterCombination("EnableHttpEndpoint and DisableHttpEndpoint apply only to "
                                                      "Aurora Serverless v2 and provisioned DB clusters.")

                def apply() -> None:
                    cluster._enable_http_endpoint = on  # moto's setter refuses anything but Serverless v1

                _world_now().later(_world_now().realism.data_api_switch_s, apply)
                return ActionResult({"ResourceArn": arn, "HttpEndpointEnabled": on})
            return handler
        return make

    _patch(RDSResponse, "enable_http_endpoint", switch(True))
    _patch(RDSResponse, "disable_http_endpoint", switch(False))


def _ec2_patches() -> None:
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models import EC2Backend

    def create(original: Any) -> Any:
        def create_vpc_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
            endpoint = original(self, *args, **kwargs)
            groups = [self.get_security_group_from_id(g) for g in endpoint.security_group_ids or []]
            for eni_id in endpoint.network_interface_ids:
                self.enis[eni_id]._group_set = [g for g in groups if g is not None]
            world = _world_now()
            if world.realism.endpoint_pending_s > 0 and endpoint.state == "available":
                endpoint.state = "pending"

                def ready() -> None:
                    if endpoint.state == "pending":
                        endpoint.state = "available"
                world.later(world.realism.endpoint_pending_s, ready)
            return endpoint
        return create_vpc_endpoint

    def delete(original: Any) -> Any:
        def delete_vpc_endpoints(self: Any, vpce_ids: Any = None) -> Any:
            enis = {eni_id: self.enis[eni_id] for vpce_id in vpce_ids or [] if vpce_id in self.vpc_end_points
                    for eni_id in self.vpc_end_points[vpce_id].network_interface_ids if eni_id in self.enis}
            result = original(self, vpce_ids)
            world = _world_now()
            if world.realism.eni_linger_s > 0 and enis:
                self.enis.update(enis)  # still there, still holding the security groups, for a while

                def gone() -> None:
                    for eni_id in enis:
                        self.enis.pop(eni_id, None)
                world.later(world.realism.eni_linger_s, gone)
            return result
        return delete_vpc_endpoints

    def delete_group(original: Any) -> Any:
        def delete_security_group(self: Any, name: Any = None, group_id: Any = None) -> Any:
            if group_id and any(group_id in [g.id for g in eni._group_set] for eni in list(self.enis.values())):
                _world_now().events["DependencyViolation"] += 1
                raise DependencyViolationError(f"resource {group_id} has a dependent object")
            return original(self, name=name, group_id=group_id)
        return delete_security_group

    _patch(EC2Backend, "create_vpc_endpoint", create)
    _patch(EC2Backend, "delete_vpc_endpoints", delete)
    _patch(EC2Backend, "delete_security_group", delete_group)


def _check_principals(policy_param: str, error: Callable[[list[str]], Exception]) -> Callable[[Any], Any]:
    def make(original: Any) -> Any:
        def handler(self: Any) -> Any:
            young = _world_now().young_principals(self._get_param(policy_param))
            if young:
                _world_now().events["invalid principal"] += 1
                raise error(young)
            return original(self)
        return handler
    return make


def _record_principal(kind: str, name_param: str) -> Callable[[Any], Any]:
    def make(original: Any) -> Any:
        def handler(self: Any) -> Any:
            result = original(self)
            _world_now().principals[(self.current_account, kind, self._get_param(name_param))] = time.monotonic()
            return result
        return handler
    return make


def _iam_sts_patches() -> None:
    from moto.core.exceptions import AccessDeniedError
    from moto.iam.exceptions import MalformedPolicyDocument
    from moto.iam.responses import IamResponse
    from moto.sts.responses import TokenResponse

    def invalid(young: list[str]) -> Exception:
        return MalformedPolicyDocument(f"Invalid principal in policy: \"AWS\":\"{young[0]}\"")

    def create_role(original: Any) -> Any:
        return _record_principal("role", "RoleName")(_check_principals("AssumeRolePolicyDocument", invalid)(original))

    _patch(IamResponse, "create_role", create_role)
    _patch(IamResponse, "update_assume_role_policy", _check_principals("PolicyDocument", invalid))
    _patch(IamResponse, "create_user", _record_principal("user", "UserName"))

    def assume(original: Any) -> Any:
        def assume_role(self: Any) -> Any:
            arn = str(self._get_param("RoleArn"))
            m = _PRINCIPAL_ARN.match(arn)
            if m and m.group(2) == "role" and _world_now().is_young(m.group(1), "role", m.group(3)):
                _world_now().events["AssumeRole denied"] += 1
                raise AccessDeniedError(f"(access key {self.get_access_key()})", f"sts:AssumeRole on resource: {arn}")
            return original(self)
        return assume_role

    _patch(TokenResponse, "assume_role", assume)


def _kms_secretsmanager_patches() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.kms.responses import KmsResponse
    from moto.secretsmanager.exceptions import InvalidRequestException
    from moto.secretsmanager.responses import SecretsManagerResponse

    def kms_invalid(young: list[str]) -> Exception:
        return JsonRESTError("MalformedPolicyDocumentException",
                             "Policy contains a statement with one or more invalid principals.")

    def sm_invalid(young: list[str]) -> Exception:
        return JsonRESTError("MalformedPolicyDocumentException", "This resource policy contains an unsupported principal.")

    _patch(KmsResponse, "create_key", _check_principals("Policy", kms_invalid))
    _patch(KmsResponse, "put_key_policy", _check_principals("Policy", kms_invalid))
    _patch(SecretsManagerResponse, "put_resource_policy", _check_principals("ResourcePolicy", sm_invalid))

    def delete(original: Any) -> Any:
        def delete_secret(self: Any) -> Any:
            result = original(self)
            world = _world_now()
            if self._get_param("ForceDeleteWithoutRecovery") and world.realism.secret_name_block_s > 0:
                name = json.loads(result)["Name"]
                world.blocked_names[(self.current_account, self.region, name)] = (
                    time.monotonic() + world.realism.secret_name_block_s)
            return result
        return delete_secret

    def create(original: Any) -> Any:
        def create_secret(self: Any) -> Any:
            until = _world_now().blocked_names.get((self.current_account, self.region, self._get_param("Name")), 0)
            if time.monotonic() < until:
                _world_now().events["secret name blocked"] += 1
                raise InvalidRequestException("You can't create this secret because a secret with this name is "
                                              "already scheduled for deletion.")
            return original(self)
        return create_secret

    _patch(SecretsManagerResponse, "delete_secret", delete)
    _patch(SecretsManagerResponse, "create_secret", create)


def events() -> dict[str, int]:
    """How often the realism layer answered differently from moto since ``install``, by kind."""
    return dict(_world.events) if _world is not None else {}


def _world_now() -> _World:
    return _world if _world is not None else _World(Realism())


def install(realism: Realism | None = None) -> None:
    """Patch moto's classes in this process (idempotent; ``uninstall`` restores them)."""
    global _world
    with _install_lock:
        _world = _World(realism or Realism())
        if _saved:
            return
        _rds_patches()
        _ec2_patches()
        _iam_sts_patches()
        _kms_secretsmanager_patches()


def uninstall() -> None:
    global _world
    with _install_lock:
        restore_patches(_saved)
        _world = None


def wrap_app(app: Callable) -> Callable:
    """The server's WSGI app behind the realism layer: queued changes applied, then the latency, then moto."""
    def realistic_app(environ: dict, start_response: Callable) -> Any:
        world = _world_now()
        world.run_due()
        if world.realism.latency_ms > 0:
            time.sleep(world.realism.latency_ms / 1000)
        return app(environ, start_response)
    return realistic_app
