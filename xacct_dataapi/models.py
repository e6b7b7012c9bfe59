"""The plan vocabulary: plain data, no I/O.

A Plan is a list of StepPlans in execution order; each StepPlan holds the API calls it needs
(possibly none, with the reason). Values not known until an earlier call returns are Refs;
values that must never be printed or stored are Sensitive. Policy documents stay dicts (JsonDoc)
until the runner serialises them, so a dry run can print them exactly as they will be written.
"""
from __future__ import annotations

import enum
import json
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Callable


# A response carrying this key made no change (already done, already gone, or deliberately skipped):
# the item's Wait, if any, is not run.
NOTHING_CHANGED = "_xacct_nothing_changed"
KEPT = "kept: "  # a NOTHING_CHANGED reason so prefixed: the shared resource stays, other deployments use it


def kept_for_others(why: object) -> str | None:
    """Why an item left a shared resource in place for other deployments (the reason after KEPT), else None."""
    return why[len(KEPT):] if isinstance(why, str) and why.startswith(KEPT) else None


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

    def matches(self, exc: BaseException) -> bool:
        """Is this a botocore ClientError (anything with .response) this retry is for?"""
        error = (getattr(exc, "response", None) or {}).get("Error", {})
        if error.get("Code") not in self.codes:
            return False
        message = str(error.get("Message", "")).lower()
        return not self.message_contains or any(m.lower() in message for m in self.message_contains)


@dataclass(frozen=True)
class Wait:
    """Poll a read call until the resource settles (terraform's StateChangeConf): `state(response)` names the
    state; a state in `pending` keeps polling, one in `target` is done, anything else fails at once."""

    service: str
    method: str
    params: dict
    state: Callable[[dict], str]
    pending: tuple[str, ...]
    target: tuple[str, ...]
    what: str
    account: Account
    # Deferred waits run after the last call of the plan, so slow AWS-side work (an endpoint becoming
    # available, the Data API switching on) overlaps with the remaining steps instead of blocking them.
    deferred: bool = False

    def naming(self, params: dict) -> str:
        """What is awaited, with the ids it polls: "the rds-data endpoint to become available (vpce-0abc)"."""
        ids = [v for v in params.values() for v in (v if isinstance(v, list) else [v]) if isinstance(v, str)]
        return self.what + "".join(f" ({v})" for v in ids if v not in self.what)


@dataclass
class PlanItem:
    """One thing the executor does, in order. The kinds below say what: an AWS call, a step's composite
    operation, bookkeeping in the state file only, or a wait. Every kind can record, forget and store."""

    account: Account
    _: KW_ONLY
    description: str = ""
    # value key -> dotted path into the response, e.g. {"key_arn": "KeyMetadata.Arn"}
    outputs: dict[str, str] = field(default_factory=dict)
    record: Record | None = None
    forget: tuple[str, str] | None = None  # (kind, id) to drop from the state once done
    store: dict = field(default_factory=dict)  # literal values recorded BEFORE the item runs
    wait: Wait | None = None
    # A delete that runs only once AWS shows the resource is the deployment's: {"kind", "id", "deployment"}.
    guard: dict | None = None

    # What the plan shows in its "call" column; Call names the AWS operation.
    @property
    def label(self) -> str:
        raise NotImplementedError

    @property
    def bookkeeping(self) -> bool:
        """Makes no AWS call and waits for nothing: only writes the state file."""
        return False

    @property
    def changes_aws(self) -> bool:
        """Makes mutating AWS calls (a Call or an Operation), as opposed to bookkeeping or waiting."""
        return False


@dataclass
class Call(PlanItem):
    """One AWS API call."""

    service: str
    method: str
    params: dict = field(default_factory=dict)
    retry: Retry | None = None
    ok_codes: tuple[str, ...] = ()  # codes that mean "already done" (e.g. NotFound on delete)

    @property
    def label(self) -> str:
        return f"{self.service}:{self.method}"

    @property
    def changes_aws(self) -> bool:
        return True


@dataclass
class Operation(PlanItem):
    """Several AWS calls that must happen together (delete a role with its inline policies, delete a security
    group once the endpoint's network interfaces are gone). The step that plans it implements `run`; the
    executor only calls it, so it knows nothing about any AWS service."""

    name: str  # e.g. "iam:delete_role_with_policies"
    run: Callable[..., dict]  # run(ops: OperationContext, **params) -> response
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name

    @property
    def changes_aws(self) -> bool:
        return True


@dataclass
class Bookkeeping(PlanItem):
    """Only the state file changes: record what exists (adopting it), or forget what is gone."""

    params: dict = field(default_factory=dict)  # always empty: nothing is sent anywhere

    @property
    def label(self) -> str:
        return "record" if self.record is not None else "forget"

    @property
    def bookkeeping(self) -> bool:
        return True


@dataclass
class WaitFor(PlanItem):
    """Wait (no change) until a resource made earlier settles, e.g. an endpoint still `pending`."""

    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "wait"


@dataclass(frozen=True)
class Resource:
    """One resource a step wants to exist: the desired state as data. plan diffs it against the facts;
    status, doctor and export read it too. `id` is the logical name (deterministic) or a Ref until made."""

    kind: str
    id: Any
    account: Account
    properties: dict = field(default_factory=dict)
    documents: dict = field(default_factory=dict)  # name -> policy document (from policies.py)
    tags: dict = field(default_factory=dict)
    arn: Any = None


class Action(str, enum.Enum):
    CREATE = "create"
    REPAIR = "repair"
    REPLACE = "replace"  # something recorded is no longer what the configuration asks for: made anew, old deleted
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
    calls: list[PlanItem] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)  # name -> policy doc, for reviewers
    problems: list[str] = field(default_factory=list)  # drift or a failing check, one line each
    drift: list[dict] = field(default_factory=list)  # differing policy statements: actual vs expected
    # A way to the data on our resource that xacct did not make (a policy on the role, a grant): named, kept, fails.
    foreign: list[str] = field(default_factory=list)
    desired: list[Resource] = field(default_factory=list)  # what the step wants to exist (setup plans)


@dataclass
class Plan:
    kind: str  # "setup" | "teardown"
    steps: list[StepPlan]

    @property
    def calls(self) -> list[PlanItem]:
        return [c for s in self.steps for c in s.calls]

    @property
    def changes(self) -> bool:
        return any(s.calls for s in self.steps)


def resolve_value(value: Any, values: dict) -> Any:
    """The value as AWS receives it: Refs from `values`, secrets revealed, documents serialised compactly."""
    if isinstance(value, Ref):
        if values.get(value.key) is None:
            # A plan naming a value no earlier item produced is a bug in xacct, not an AWS failure.
            raise AssertionError(f"internal error: the plan refers to {value}, which no earlier call produced")
        return values[value.key]
    if isinstance(value, Sensitive):
        return value.reveal()
    if isinstance(value, JsonDoc):
        return json.dumps(resolve_value(value.doc, values), separators=(",", ":"))
    if isinstance(value, dict):
        return {k: resolve_value(v, values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve_value(v, values) for v in value]
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
    if isinstance(value, Sensitive):
        return value.preview if value.preview is not None else "********"
    if isinstance(value, JsonDoc):
        return render_value(value.doc)
    if isinstance(value, dict):
        return {k: render_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(v) for v in value]
    return value



@dataclass
class Inspection:
    """What a step's read-only inspection found: facts for its own plan, and values (ARNs, ids) other steps'
    inspections or plans use. A value of None means "not known": the planner drops it. Inspections never
    write shared state; the planner merges their values in one thread, wave by wave."""

    facts: dict
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One step of the setup, declared as data. Adding a step is one module defining STEP plus one line in
    steps/__init__.py: the planner, status, teardown and lost-state discovery read only these fields."""

    number: int  # the recipe's number (display); 0 = a prerequisite, not one of the eight
    key: str
    title: str
    kinds: tuple[str, ...]  # the state-file row kinds it records (teardown and status find its rows by these)
    inspect: Callable[..., Inspection]  # inspect(ctx, known) -> Inspection; read-only AWS calls
    desired: Callable[..., list]  # desired(ctx) -> [Resource]; pure
    plan: Callable[..., StepPlan]  # plan(ctx, facts, desired) -> StepPlan; pure
    # teardown(row, state) -> [PlanItem], pure: only for kinds whose resource type plans no deletion of its own
    # (shared resources: the endpoint, its group, the Data API switch). Every other kind's type deletes it.
    teardown: Callable[..., list] | None = None
    needs: tuple[str, ...] = ()  # values its inspection reads, produced by other steps' inspections
    provides: tuple[str, ...] = ()  # values its inspection may produce
    discover: Callable[..., list] | None = None  # discover(finder) -> [ResourceRow], by name and tag, read-only
    # Teardown runs recorded rows in reverse; a rank moves a kind earlier (<0) or later (>0) than that.
    teardown_rank: dict = field(default_factory=dict)
    # applies(ctx) -> bool: an optional step (the database user, with --create-db-user) is planned and reported only
    # when it applies; it is always inspected (cheaply: its inspection reads nothing when it does not apply).
    applies: Callable[..., bool] | None = None
    generates: dict = field(default_factory=dict)  # value -> its maker, run by the planner if unknown (ctx.generated)

    def make_plan(self, ctx, facts: dict) -> StepPlan:
        """desired(ctx), then plan() against the facts; the plan carries the desired resources and documents."""
        desired = self.desired(ctx)
        planned = self.plan(ctx, facts, desired)
        planned.documents = {name: doc for r in desired for name, doc in r.documents.items()}
        planned.desired = desired
        return planned
