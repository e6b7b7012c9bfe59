"""Team state: deployments' state files in S3, so operators on different machines (or an operator and a CI job)
see each other's deployments and never run two writers on one deployment.

`--state s3://BUCKET/PREFIX/` (or XACCT_STATE) puts deployment N's state at `PREFIX/N.json`. Everything rests on
S3's conditional writes, no other service (S3 User Guide, "Add preconditions to S3 operations with conditional
requests": PutObject with If-None-Match: * fails with 412 if the key exists; with If-Match: <ETag> if it changed):
- the lock is the object `N.json.lock`, created with If-None-Match: *, holding who took it (pid, host, time, id);
  a second writer gets 412 and is told the holder; a stale lock is removed only by `xacct force-unlock LOCK_ID`;
- every save is one PutObject, conditioned on the ETag this process last read or wrote (If-Match), or on the key
  not existing (If-None-Match: *): a PUT is atomic, so no partial state is ever visible, and a writer that lost
  the lock (force-unlocked) cannot overwrite a newer state;
- the bucket is never created here: a missing bucket or a denied request is a clear error naming it.
The S3 client uses XACCT_STATE_PROFILE if set, else the SDK's default credentials (AWS_PROFILE, environment, ...).
Enable the bucket's versioning for history: the local file's `.bak` copy has no S3 counterpart (one PUT a save).
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from xacct_dataapi.errors import LockedError, StateError, UsageError

SCHEME = "s3://"
_etags: dict[str, str] = {}  # str(location) -> the ETag this process last read or wrote
_guard = threading.Lock()
_clients: dict[str | None, object] = {}


@dataclass(frozen=True)
class S3Location:
    """One deployment's state object (key ends in .json), or a prefix for many (key empty or ending in /)."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, url: str) -> "S3Location":
        rest = url[len(SCHEME):]
        bucket, _, key = rest.partition("/")
        if not bucket or any(c in bucket for c in " \\") or ".." in key:
            raise UsageError(f"--state {url!r} is not an S3 location.", "Use s3://BUCKET/PREFIX/ (a folder for "
                             "every deployment's state) or s3://BUCKET/PREFIX/NAME.json.")
        return cls(bucket, key)

    @property
    def is_prefix(self) -> bool:
        return self.key == "" or self.key.endswith("/")

    def for_name(self, name: str) -> "S3Location":
        return S3Location(self.bucket, f"{self.key}{name}.json") if self.is_prefix else self

    @property
    def folder(self) -> "S3Location":
        """The prefix this location is in (itself, if it is a prefix)."""
        return self if self.is_prefix else S3Location(self.bucket, self.key[:self.key.rfind("/") + 1])

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        return self.name[:-len(".json")] if self.name.endswith(".json") else self.name

    @property
    def lock_key(self) -> str:
        return self.key + ".lock"

    def exists(self) -> bool:
        # HEAD, not GET: asking whether a deployment exists must not download its state.
        return _head(self, self.key)

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"


def is_s3(value: object) -> bool:
    return isinstance(value, S3Location) or (isinstance(value, str) and value.startswith(SCHEME))


def _client():
    profile = os.environ.get("XACCT_STATE_PROFILE") or None
    with _guard:
        if profile not in _clients:
            import boto3

            _clients[profile] = boto3.Session(profile_name=profile).client("s3")
        return _clients[profile]


def _code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _failure(loc: S3Location, exc: BaseException, doing: str) -> StateError:
    code = _code(exc)
    if code == "NoSuchBucket":
        return StateError(f"The state bucket {loc.bucket!r} does not exist ({doing} {loc}).",
                          f"Create it first (xacct never creates it), e.g. `aws s3 mb s3://{loc.bucket}` with "
                          "versioning on, or pass another --state.")
    if code in ("AccessDenied", "403", "Forbidden"):
        return StateError(f"Access denied {doing} {loc}.",
                          "Grant s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the bucket and prefix "
                          "to the credentials xacct uses for state (XACCT_STATE_PROFILE, else the default ones): "
                          f"`xacct permissions --side SIDE --state-bucket {loc.folder}` prints them.")
    return StateError(f"S3 answered {code or type(exc).__name__} {doing} {loc}: {exc}.",
                      "Check the bucket, its region and your network; nothing was written.")


def _read_or_none(loc: S3Location, call, key: str) -> dict | None:
    """One read of `key` (GetObject or HeadObject), or None if there is no such object; any other fault named."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call(Bucket=loc.bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in ("NoSuchKey", "404", "NotFound"):
            return None
        if _code(exc) in ("AccessDenied", "403", "Forbidden") and not _listed(loc, key):
            return None
        raise _failure(loc, exc, "reading") from None
    except BotoCoreError as exc:
        raise _failure(loc, exc, "reading") from None


def _listed(loc: S3Location, key: str) -> bool:
    """Whether `key` exists, by listing under it: S3 answers a read of a missing key with 403 unless the caller may
    list the bucket (GetObject/HeadObject, "Permissions"), and the least policy lists under the prefix only
    (`xacct permissions --state-bucket`), which such a read may not count as. A refused listing counts as listed:
    the read's own refusal is then the error."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = _client().list_objects_v2(Bucket=loc.bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    except (ClientError, BotoCoreError):
        return True
    return any(o.get("Key") == key for o in found)


def _head(loc: S3Location, key: str) -> bool:
    return _read_or_none(loc, _client().head_object, key) is not None


def _get(loc: S3Location, key: str) -> tuple[bytes, str] | None:
    got = _read_or_none(loc, _client().get_object, key)
    return None if got is None else (got["Body"].read(), got["ETag"])


def read(loc: S3Location) -> bytes | None:
    """The state object's bytes, or None if there is none; remembers its ETag for the next save."""
    got = _get(loc, loc.key)
    with _guard:
        if got is None:
            _etags.pop(str(loc), None)
            return None
        _etags[str(loc)] = got[1]
    return got[0]


def write(loc: S3Location, data: bytes) -> None:
    """One atomic PUT, only if nobody wrote the object since this process last read or wrote it."""
    from botocore.exceptions import BotoCoreError, ClientError

    with _guard:
        etag = _etags.get(str(loc))
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        put = _client().put_object(Bucket=loc.bucket, Key=loc.key, Body=data, ContentType="application/json",
                                   **condition)
    except ClientError as exc:
        if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise StateError(f"The state at {loc} was changed by another writer since this run read it; nothing "
                             "was overwritten.", "Someone force-unlocked this deployment while this run held it. "
                             "Re-run the command: it reads the newer state.") from None
        raise _failure(loc, exc, "writing") from None
    except BotoCoreError as exc:
        raise _failure(loc, exc, "writing") from None
    with _guard:
        _etags[str(loc)] = put["ETag"]


def delete(loc: S3Location) -> None:
    from botocore.exceptions import ClientError

    try:
        _client().delete_object(Bucket=loc.bucket, Key=loc.key)
    except ClientError as exc:
        raise _failure(loc, exc, "deleting") from None
    with _guard:
        _etags.pop(str(loc), None)


def _holder(loc: S3Location) -> dict:
    got = _get(loc, loc.lock_key)
    try:
        return json.loads(got[0]) if got else {}
    except ValueError:
        return {}


@contextmanager
def locked(loc: S3Location) -> Iterator[None]:
    """One writer per deployment, across machines: the lock object is created only if it does not exist."""
    from botocore.exceptions import ClientError

    mine = {"id": str(uuid.uuid4()), "pid": os.getpid(), "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        _client().put_object(Bucket=loc.bucket, Key=loc.lock_key, Body=json.dumps(mine).encode(), IfNoneMatch="*")
    except ClientError as exc:
        if _code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise _failure(loc, exc, "locking") from None
        held = _holder(loc)
        raise LockedError(
            f"Deployment state {loc} is locked by another xacct run: pid {held.get('pid')} on host "
            f"{held.get('host')} (since {held.get('since')}), lock id {held.get('id')}.",
            "Wait for it to finish. If that run is gone for good (its machine died), take the lock over with "
            f"`xacct force-unlock {held.get('id')} --name {loc.stem} --state {loc.folder}`.") from None
    try:
        yield
    finally:
        if _holder(loc).get("id") == mine["id"]:  # never remove a lock someone else took over
            _client().delete_object(Bucket=loc.bucket, Key=loc.lock_key)


def force_unlock(loc: S3Location, lock_id: str) -> dict:
    """Remove a stale lock, only if it is still the one named (the id the refusal printed)."""
    held = _holder(loc)
    if not held:
        raise UsageError(f"Deployment state {loc} is not locked.", "Nothing to unlock.")
    if held.get("id") != lock_id:
        raise UsageError(f"The lock on {loc} has id {held.get('id')}, not {lock_id!r}.",
                         "Pass the id the lock refusal printed; a new holder may have taken it since.")
    _client().delete_object(Bucket=loc.bucket, Key=loc.lock_key)
    return held


def states_under(prefix: S3Location) -> list[S3Location]:
    """Every deployment's state object directly under the prefix."""
    from botocore.exceptions import ClientError

    try:
        pages = _client().get_paginator("list_objects_v2").paginate(Bucket=prefix.bucket, Prefix=prefix.key,
                                                                      Delimiter="/")
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    except ClientError as exc:
        raise _failure(prefix, exc, "listing") from None
    return [S3Location(prefix.bucket, k) for k in sorted(keys) if k.endswith(".json")]
