"""What the sandbox's authorization reads from a request and its caller, and how it refuses one: the request's
parameters by botocore's names, a principal's identity policies from moto's IAM backend, and the refusal that
becomes AWS's error. enforce.py (each request), private.py (the network path) and simulate.py (IAM's policy
simulator) all use these; none of them imports another for them."""
from __future__ import annotations

from typing import Any


class Refusal(Exception):
    def __init__(self, code: str, message: str):
        self.code, self.message = code, message


def managed(policies: Any) -> list[str]:
    docs = []
    for policy in dict(policies or {}).values():
        version = next((v for v in getattr(policy, "versions", []) if v.version_id == policy.default_version_id), None)
        if version is not None:
            docs.append(version.document)
    return docs


def identity_policies(account: str, kind: str, name: str) -> tuple[Any, ...]:
    """A user's inline, attached and groups' policies, or a role's inline and attached policies."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["aws"]
    if kind == "role":
        role = iam.get_role(name)
        return (*role.policies.values(), *managed(role.managed_policies))
    user = iam.get_user(name)
    docs = [*user.policies.values(), *managed(user.managed_policies)]
    for group in iam.get_groups_for_user(name):
        docs += [*group.policies.values(), *managed(group.managed_policies)]
    return tuple(docs)


def request_params(resp: Any) -> dict:
    """The request's parameters by botocore's names (moto's own parse may rename them, e.g. RDS to snake_case)."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.responses import determine_request_protocol, get_service_model

    try:
        request = resp.normalized_request
        model = get_service_model(resp.boto3_service_name)
        operation = model.operation_model(resp._get_action())
        parser = PROTOCOL_PARSERS[determine_request_protocol(model, request)](operation, map_type=dict)
        return dict(parser.parse({"method": request.method, "values": request.values, "headers": request.headers,
                                  "body": request.data, "url_path": request.path, "url_params": resp.uri_match}))
    except Exception:  # a request botocore's model does not describe: no parameters to authorise on
        return {}


def signature_matches(resp: Any, path: str, s3: bool = False) -> bool:
    """Whether the request's SigV4 signature was made with its access key's secret (or its session's), as AWS
    checks before anything else. moto checks it only in its own authorization, which the sandbox's replaces; without
    this a request signed with any secret, even a deleted key pair's or a typo's, passed for its key's owner.
    `path`: the path as the client signed it (private.signed_path)."""
    from urllib.parse import urlparse

    from moto.iam.access_control import IAMRequest, S3IAMRequest

    query = urlparse(resp.uri).query
    path += f"?{query}" if query else ""
    request_cls = S3IAMRequest if s3 else IAMRequest
    try:
        # moto signs `body or data`: a GET's parameters (route53) are in its query string, not a form body
        request = request_cls(account_id=resp.current_account, method=resp.method, path=path,
                              data={} if resp.method in ("GET", "HEAD") else resp.data, body=resp.raw_body, headers=resp.headers,
                              action=(resp.data.get("Action") if s3 else resp._get_action()) or "")
        request.check_signature()
    except Exception:  # moto raises its service's SignatureDoesNotMatch (EC2: AuthFailure)
        return False
    return True
