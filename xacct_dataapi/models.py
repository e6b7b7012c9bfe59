"""The plan vocabulary: plain data, no I/O.

A Plan is a list of StepPlans in execution order; each StepPlan holds the API calls it needs
(possibly none, with the reason). Values not known until an earlier call returns are Refs;
values that must never be printed or stored are Sensitive. Policy documents stay dicts (JsonDoc)
until the runner serialises them, so a dry run can print them exactly as they will be written.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable


class Account(str, enum.Enum):
    CONSUMER = "consumer"
    PROVIDER = "provider"


@dataclass(frozen=True)
class Ref:
    """A value an earlier call produces (or the state file already holds), e.g. Ref('key_arn')."""

    key: str

    def __str__(self) -> str:
        return "${" + self.key + "}"


class Sensitive:
    """A secret value: resolved only at execution, rendered as '********' everywhere else."""

    __slots__ = ("_get", "preview")

    def __init__(self, get: Callable[[], str], preview: Any = None):
        self._get = get
        self.preview = preview  # a safe view for plans (e.g. the secret's keys with the password masked)

    def reveal(self) -> str:
        return self._get()

    def __repr__(self) -> str:
        return "Sensitive('********')"

    __str__ = __repr__


@dataclass(frozen=True)
class JsonDoc:
    """A JSON document parameter (a policy, a secret string); serialised after Refs resolve."""

    doc: Any


@dataclass(frozen=True)
class Record:
    """How to record the resource a call creates (values may be Refs to the call's outputs)."""

    kind: str
    id: Any
    arn: Any = None
    created: bool = True
    name: Any = None


@dataclass(frozen=True)
class Retry:
    """Retry a call on these error codes (eventual consistency), bounded by --wait-timeout."""

    codes: tuple[str, ...]
    message_contains: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class Wait:
    """Poll a read call until `ready(response)` is true; `what` names it for the timeout message."""

    service: str
    method: str
    params: dict
    ready: Callable[[dict], bool]
    what: str
    account: Account | None = None
    # Deferred waits run after the last call of the plan, so slow AWS-side work (an endpoint becoming
    # available, the Data API switching on) overlaps with the remaining steps instead of blocking them.
    deferred: bool = False


@dataclass
class Call:
    account: Account
    service: str
    method: str
    params: dict = field(default_factory=dict)
    # value key -> dotted path into the response, e.g. {"key_arn": "KeyMetadata.Arn"}
    outputs: dict[str, str] = field(default_factory=dict)
    record: Record | None = None
    forget: tuple[str, str] | None = None  # teardown: (kind, id) to drop from state once done
    store: dict = field(default_factory=dict)  # literal values to record once the call succeeds
    retry: Retry | None = None
    ok_codes: tuple[str, ...] = ()  # codes that mean "already done" (e.g. NotFound on delete)
    wait: Wait | None = None
    description: str = ""

    @property
    def bookkeeping(self) -> bool:
        """Only writes a row in the state file (adopting what exists); makes no AWS call."""
        return self.service == "xacct" and self.method == "record"


class Action(str, enum.Enum):
    CREATE = "create"
    REPAIR = "repair"
    NOOP = "no-op"
    CHECK = "check"
    DELETE = "delete"


@dataclass
class StepPlan:
    number: int
    key: str
    title: str
    action: Action
    reason: str
    calls: list[Call] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)  # name -> policy doc, for reviewers
    problems: list[str] = field(default_factory=list)  # drift or a failing check, one line each
    drift: list[dict] = field(default_factory=list)  # differing policy statements: actual vs expected


@dataclass
class Plan:
    kind: str  # "setup" | "teardown"
    steps: list[StepPlan]

    @property
    def calls(self) -> list[Call]:
        return [c for s in self.steps for c in s.calls]

    @property
    def changes(self) -> bool:
        return any(s.calls for s in self.steps)


def render_value(value: Any) -> Any:
    """A JSON-able view of a param value: Refs as ${key}, secrets masked, documents as dicts."""
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, Sensitive):
        return value.preview if value.preview is not None else "********"
    if isinstance(value, JsonDoc):
        return render_value(value.doc)
    if isinstance(value, dict):
        return {k: render_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(v) for v in value]
    return value
