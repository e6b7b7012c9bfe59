"""S3 requests authorised as AWS does (the team state, `--state s3://BUCKET/PREFIX/`).

moto's S3 answers outside `BaseResponse.call_action`, where enforce.py decides every other service: its handlers
name the action only once they have parsed the request, then call `_authenticate_and_authorize_s3_action(bucket,
key)`. The sandbox decides there, with decide.py, as for every other request:
- the action is IAM's name for the request ("Actions, resources, and condition keys for Amazon S3",
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html): HeadObject is
  `s3:GetObject`, HeadBucket and ListObjects(V2) `s3:ListBucket`; object actions on `arn:aws:s3:::BUCKET/KEY`, bucket
  actions on `arn:aws:s3:::BUCKET`;
- condition keys: `s3:prefix`, `s3:delimiter`, `s3:max-keys` on ListBucket when the request gives them;
  `s3:if-none-match` / `s3:if-match` on PutObject when the request carries the header ("Enforce conditional writes
  on Amazon S3 buckets", https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html);
- the bucket policy is the resource policy, the bucket's account its owner (same account: either may allow;
  another account: both must);
- a GetObject or HeadObject of a key that does not exist is `AccessDenied` (403) unless the caller may also
  `s3:ListBucket` the bucket (GetObject / HeadObject API reference, "Permissions": "If the object you request
  doesn't exist, the error that Amazon S3 returns depends on whether you also have the s3:ListBucket permission").
  AWS does not say which condition keys that implied check carries; the sandbox sets none (no `s3:prefix`), the
  stricter reading, so a ListBucket narrowed by prefix gets 403 there (state_s3 copes with either).
A bucket that does not exist is left to moto's `NoSuchBucket`, as S3 answers it to anyone; CreateBucket is the
caller's identity policy alone. Not modelled: ACLs, access points, Object Ownership, Block Public Access.
"""
from __future__ import annotations

from typing import Any, Callable

from xacct_dataapi.sandbox.authz.resources import Target

# moto's action names (moto.s3.responses.ACTION_MAP) where IAM's differ.
_IAM_NAME = {"HeadBucket": "ListBucket"}
_state: dict[str, Any] = {"original": None}


def _bucket(resp: Any, name: str) -> Any:
    from moto.s3.models import s3_backends

    where = s3_backends.bucket_accounts.get(name)
    if where is None:
        return None
    partition, account = where
    return s3_backends[account][partition].buckets.get(name)


def _first(values: Any) -> str | None:
    if isinstance(values, list):
        return str(values[0]) if values else None
    return None if values is None else str(values)


def _policy(bucket: Any) -> Any:
    policy = getattr(bucket, "policy", None)
    return policy.decode() if isinstance(policy, bytes) else policy


def targets(resp: Any, action: str, bucket_name: str | None, key_name: str | None) -> list[Target] | None:
    """The request's resources (None: nothing to authorise here, moto answers NoSuchBucket)."""
    if not bucket_name:
        return [Target("*")]
    bucket = _bucket(resp, bucket_name)
    if bucket is None:
        if action == "s3:CreateBucket":
            return [Target(f"arn:aws:s3:::{bucket_name}", resp.current_account)]
        return None
    query, headers = resp.querystring or {}, resp.headers
    ctx: dict = {}
    if action == "s3:ListBucket":
        for key in ("prefix", "delimiter", "max-keys"):
            value = _first(query.get(key))
            if value is not None:
                ctx[f"s3:{key}"] = [value]
    if action == "s3:PutObject":
        for header in ("If-None-Match", "If-Match"):
            if headers.get(header) is not None:
                ctx[f"s3:{header.lower()}"] = [str(headers.get(header))]
    arn = f"arn:aws:s3:::{bucket_name}" + (f"/{key_name}" if key_name else "")
    found = [Target(arn, bucket.account_id, ctx, _policy(bucket))]
    if action == "s3:GetObject" and key_name and key_name not in bucket.keys:
        # Whether the key is missing is itself a listing of the bucket.
        found.append(Target(f"arn:aws:s3:::{bucket_name}", bucket.account_id, {}, _policy(bucket),
                            action="s3:ListBucket"))
    return found


def action_of(resp: Any) -> str | None:
    """IAM's name of the action moto's S3 handler set (None: not one to authorise)."""
    op = str(resp.data.get("Action") or "")
    return f"s3:{_IAM_NAME.get(op, op)}" if op else None


def install(decide: Callable[[Any, str | None, str | None], bool]) -> None:
    """Put `decide(resp, bucket, key)` where moto's S3 asks for authorization (idempotent); moto's own check runs
    when it returns False (authorization not enabled)."""
    from moto.s3.responses import S3Response

    if _state["original"] is not None:
        return
    original = S3Response._authenticate_and_authorize_s3_action
    _state["original"] = original

    def authorize_s3(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        if not decide(self, bucket_name, key_name):
            original(self, bucket_name=bucket_name, key_name=key_name)

    S3Response._authenticate_and_authorize_s3_action = authorize_s3  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.s3.responses import S3Response

    if _state["original"] is not None:
        S3Response._authenticate_and_authorize_s3_action = _state["original"]  # type: ignore[method-assign]
        _state["original"] = None
