"""The state file: what xacct created or adopted, written atomically after every mutating call.

Format (docs/reliability.md): versioned JSON, mode 0600, the previous version kept as <state>.bak.
It never holds a password. A file that cannot be read, or has an unknown schema, is never overwritten.
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

from xacct_dataapi import __version__
from xacct_dataapi.errors import LockedError, StateError
from xacct_dataapi import state_s3
from xacct_dataapi.state_s3 import S3Location

SCHEMA_VERSION = 1


@dataclass
class ResourceRow:
    step: int
    kind: str
    id: str
    account: str
    arn: str | None = None
    name: str | None = None
    created: bool = True

    def to_json(self) -> dict:
        return {
            "step": self.step,
            "kind": self.kind,
            "id": self.id,
            "arn": self.arn,
            "name": self.name,
            "account": self.account,
            "created": self.created,
        }


@dataclass
class State:
    name: str
    region: str | None = None
    profiles: dict[str, str | None] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    resources: list[ResourceRow] = field(default_factory=list)
    last_error: dict[str, Any] | None = None
    created_at: str | None = None
    updated_at: str | None = None

    def find(self, kind: str, id: str | None = None) -> ResourceRow | None:
        for row in self.resources:
            if row.kind == kind and (id is None or row.id == id):
                return row
        return None

    def record(self, row: ResourceRow) -> None:
        existing = self.find(row.kind, row.id)
        if existing is None:
            self.resources.append(row)
        else:
            existing.arn = row.arn or existing.arn
            existing.name = row.name or existing.name

    def forget(self, kind: str, id: str) -> None:
        self.resources = [r for r in self.resources if not (r.kind == kind and r.id == id)]

    def to_json(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "xacct_version": __version__,
            "name": self.name,
            "region": self.region,
            "profiles": self.profiles,
            "accounts": self.accounts,
            "config": self.config,
            "values": self.values,
            "resources": [r.to_json() for r in self.resources],
            "last_error": self.last_error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, data: dict, path: Path) -> "State":
        try:
            return cls(
                name=data["name"],
                region=data.get("region"),
                profiles=_mapping(data, "profiles"),
                accounts=_mapping(data, "accounts"),
                config=_mapping(data, "config"),
                values=_mapping(data, "values"),
                resources=[_row(r) for r in data.get("resources") or []],
                last_error=data.get("last_error"),
                created_at=data.get("created_at"),
                updated_at=data.get("updated_at"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise StateError(
                f"State file {path} is not a valid xacct state file ({exc}).",
                f"It was left untouched. Restore {path}.bak if present (`cp {path}.bak {path}`), or move it aside and "
                f"run `xacct teardown --name {_name_hint(path)} --consumer-profile CP --provider-profile PP` to find resources by tag.",
            ) from None


# A row's fields as xacct writes them: a state file is untrusted input, and a row of another shape (an id that is a
# list, an account that is neither side) is refused when the file is read, not met as a crash mid-teardown.
_ROW_FIELDS = {"step": int, "kind": str, "id": str, "account": str, "arn": (str, type(None)),
               "name": (str, type(None)), "created": bool}


def _row(data: Any) -> ResourceRow:
    row = ResourceRow(**data)  # TypeError for a missing or unknown field, or a row that is no object
    bad = [f"{key} {getattr(row, key)!r}" for key, kind in _ROW_FIELDS.items()
           if not isinstance(getattr(row, key), kind) or (key == "step" and isinstance(row.step, bool))]
    if row.account not in ("consumer", "provider"):
        bad.append(f"account {row.account!r} (consumer or provider)")
    if bad or not row.kind or not row.id:
        raise TypeError(f"resource row {data.get('kind')!r} {data.get('id')!r} has " + (", ".join(bad) or "an empty "
                                                                                       "kind or id"))
    return row


def _mapping(data: dict, key: str) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise TypeError(f"{key!r} is {type(value).__name__}, not an object")
    return dict(value)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def load(path: Path | S3Location) -> State | None:
    """The state at `path`, or None if there is none. Raises StateError (file untouched) if unusable."""
    try:
        raw = state_s3.read(path) if isinstance(path, S3Location) else path.read_bytes()
        if raw is None:
            return None
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"State file {path} cannot be read: {exc.strerror}.", "Check its permissions.") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateError(
            f"State file {path} is not valid JSON ({exc}).",
            f"It was left untouched. Restore the previous version with `cp {path}.bak {path}` if it exists, "
            f"or move the file aside and use `xacct teardown --name {_name_hint(path)} --consumer-profile CP --provider-profile PP`, "
            "which finds the deployment's resources by tag.",
        ) from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        version = data.get("schema_version") if isinstance(data, dict) else None
        raise StateError(
            f"State file {path} has schema_version {version!r}; this xacct ({__version__}) reads version {SCHEMA_VERSION}.",
            "It was left untouched. Use the xacct version that wrote it, or restore "
            f"{path}.bak if that one is readable.",
        )
    return State.from_json(data, path)


def save(state: State, path: Path | S3Location) -> None:
    """Atomically replace `path` (same-directory temp file, fsync, rename); keep the previous as .bak.
    In S3: one conditional PUT (state_s3.write)."""
    state.updated_at = _now()
    state.created_at = state.created_at or state.updated_at
    text = json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n"
    if isinstance(path, S3Location):
        state_s3.write(path, text.encode("utf-8"))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _copy_backup(path)
    atomic_write(path, text.encode("utf-8"))


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` or leave it untouched: same-directory temp file, fsync, rename, dir fsync."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _copy_backup(path: Path) -> None:
    atomic_write(path.with_name(path.name + ".bak"), path.read_bytes())


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _name_hint(path: Path | S3Location) -> str:
    """The deployment's name for a hint: the file name under .xacct/ (xacct names it so), else a placeholder."""
    if isinstance(path, S3Location):
        return path.stem
    return path.stem if path.parent.name == ".xacct" else "<its deployment name>"


def deployments_beside(path: Path | S3Location) -> list[str]:
    """The names of the deployments recorded in the same folder (or S3 prefix) as `path`."""
    if isinstance(path, S3Location):
        return [loc.stem for loc in state_s3.states_under(path.folder)]
    return sorted(p.stem for p in path.parent.glob("*.json")) if path.parent.is_dir() else []


class NoDeployment(StateError):
    """A command that needs a recorded deployment found none at the location."""


def open_recorded(path: Path | S3Location) -> State:
    """The one way every command opens a recorded deployment: its state, or NoDeployment naming the deployments that
    do exist next to it (a command run without --name looks for `default`, which a user may never have made)."""
    state = load(path)
    if state is not None:
        return state
    raise NoDeployment(f"No xacct deployment state at {path}.", existing_deployments_hint(path))


def existing_deployments_hint(path: Path | S3Location) -> str:
    """Which deployments are recorded where `path` was looked for, and how to name one of them."""
    others = deployments_beside(path)
    if others:
        return ("Deployments there: " + ", ".join(others) + f". Pass --name {others[0]}" +
                (" (the only one)." if len(others) == 1 else " or another of them.") + " `xacct list` lists them.")
    return "Pass --name or --state of an existing deployment (run `xacct setup` first)."


def remove(path: Path | S3Location) -> None:
    """After a complete teardown: the state file and its backup go (nothing is left to record); the lock file goes
    when the lock is released (locked())."""
    if isinstance(path, S3Location):
        state_s3.delete(path)
        return
    for gone in (path, path.with_name(path.name + ".bak")):
        gone.unlink(missing_ok=True)


@contextmanager
def locked(path: Path | S3Location) -> Iterator[None]:
    """One writer per deployment. The OS releases the lock when its holder dies, so a stale lock is taken over.
    In S3 the lock works across machines (state_s3.locked); a stale one is removed by `xacct force-unlock`."""
    if isinstance(path, S3Location):
        with state_s3.locked(path):
            yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    info_path = path.with_name(path.name + ".lock.owner")
    lock = FileLock(str(lock_path), timeout=0)
    try:
        with open(lock_path, "a"):  # filelock reports an unwritable place as "held by someone": say what it is
            pass
    except OSError as exc:
        raise StateError(f"Cannot create the lock file {lock_path}: {exc.strerror}.",
                         "Pass --state with a path in a writable directory.") from None
    try:
        lock.acquire()
    except Timeout:
        holder = "unknown"
        try:
            owner = json.loads(info_path.read_text())
            holder = f"pid {owner.get('pid')} on host {owner.get('host')} (since {owner.get('since')})"
        except (OSError, ValueError):
            pass
        raise LockedError(
            f"Deployment state {path} is locked by another xacct process: {holder}.",
            "Wait for it to finish. If that process is gone, its lock is released by the OS and the next run takes it over.",
        ) from None
    try:
        info_path.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}))
        yield
    finally:
        info_path.unlink(missing_ok=True)
        lock.release()
        if not path.exists():  # torn down (or never written: a failed first run): no lock file left behind
            lock_path.unlink(missing_ok=True)
