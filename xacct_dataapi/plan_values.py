"""The values inside a plan's parameters: a Ref to what an earlier call produces, a secret the operator gives only
when a call needs it (SecretInput, inside a Sensitive document), and a JSON document (a policy) serialised only when
sent; how the executor resolves them (resolve_value) and how every rendering shows them (render_value). Plain data."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Ref:
    """A value an earlier call produces (or the state file already holds), e.g. Ref('key_arn')."""

    key: str

    def __str__(self) -> str:
        return "${" + self.key + "}"


@dataclass(frozen=True, repr=False)
class SecretInput:
    """A secret the operator gives only when a call needs it (the database password): the plan names it, the executor
    asks the source the command gave it (Runner(secrets=...)) right before the call, nothing stores or prints it."""

    name: str

    def __repr__(self) -> str:
        return f"SecretInput({self.name!r})"


@dataclass(frozen=True, repr=False)
class Sensitive:
    """A secret value as data: a document whose SecretInputs the executor fills in when the call is sent (serialised
    as JSON then); everywhere else it is its `preview`, the document with each of them '********'."""

    doc: Any

    @property
    def preview(self) -> Any:
        return render_value(self.doc)

    def __repr__(self) -> str:
        return "Sensitive('********')"

    __str__ = __repr__


@dataclass(frozen=True)
class JsonDoc:
    """A JSON document parameter (a policy, a secret string); serialised after Refs resolve."""

    doc: Any


def resolve_value(value: Any, values: dict, secrets: Mapping[str, Callable[[], str]] | None = None) -> Any:
    """The value as AWS receives it: Refs from `values`, secrets from their `secrets` source, documents serialised."""
    if isinstance(value, Ref):
        if values.get(value.key) is None:
            # A plan naming a value no earlier item produced is a bug in xacct, not an AWS failure.
            raise AssertionError(f"internal error: the plan refers to {value}, which no earlier call produced")
        return values[value.key]
    if isinstance(value, SecretInput):
        if value.name not in (secrets or {}):
            raise AssertionError(f"internal error: the plan needs {value}, which the command gave the executor no way to ask")
        return secrets[value.name]()
    if isinstance(value, (Sensitive, JsonDoc)):  # a secret keeps json.dumps' spacing, as it always has
        done = resolve_value(value.doc, values, secrets)
        return json.dumps(done) if isinstance(value, Sensitive) else json.dumps(done, separators=(",", ":"))
    if isinstance(value, dict):
        return {k: resolve_value(v, values, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve_value(v, values, secrets) for v in value]
    return value


def dig(data: Any, path: str) -> Any:
    """response["A"]["B"] for the path "A.B"."""
    for part in path.split("."):
        data = data[part]
    return data


def render_value(value: Any) -> Any:
    """A JSON-able view of a param value: Refs as ${key}, secrets masked, documents as dicts."""
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, SecretInput):
        return "********"
    if isinstance(value, (Sensitive, JsonDoc)):
        return render_value(value.doc)
    if isinstance(value, dict):
        return {k: render_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(v) for v in value]
    return value
