"""The pipeline: config -> facts -> desired -> plan -> executor -> state. This module is the read-only half.

plan_setup makes only describe/get/list calls. Each step's inspection returns facts and values (ARNs, ids);
inspections run concurrently in waves derived from what each step `needs` and `provides`, and their values
are merged here, in one thread. Then, in execution order, each step states its desired resources (pure) and
diffs them against its facts (pure), giving per step the exact items it would run — or, for a no-op, the
reason. `--dry-run` prints this plan; `setup` prints it, asks, and hands the same object to the executor.
plan_teardown needs no AWS at all: it reverses the resources recorded in the state file; each delete it plans is
guarded by its resource type, which reads the resource again right before deleting it (resource_types).
"""
from __future__ import annotations

from typing import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from xacct_dataapi.errors import AwsError, error_message
from xacct_dataapi.models import Action, Inspection, Plan, Ref, Step, StepPlan
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.resource_types import for_kind
from xacct_dataapi.state import ResourceRow, State
from xacct_dataapi.steps import recorded_by, registered, step_for_row


def inspection_waves(steps: Sequence[Step], known: frozenset[str] | set[str] = frozenset()) -> list[list[Step]]:
    """Steps grouped so that every value a step's inspection needs was provided by an earlier wave, or is already
    `known` (from the state file: then the step goes early, and inspect_all checks that guess afterwards)."""
    provider = {value: s.key for s in steps for value in s.provides}
    done: set[str] = set()
    remaining, waves = list(steps), []
    while remaining:
        wave = [s for s in remaining
                if all(v in known or provider.get(v, s.key) in done | {s.key} for v in s.needs)]
        if not wave:
            raise ValueError("steps need each other's values in a cycle: " + ", ".join(s.key for s in remaining))
        waves.append(wave)
        done |= {s.key for s in wave}
        remaining = [s for s in remaining if s not in wave]
    return waves


def _inspect(step: Step, ctx, known: dict) -> Inspection:
    try:
        return step.inspect(ctx, dict(known))
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(
            f"Step {step.number} ({step.title}): reading the current state failed: {error_message(exc)}.",
            "Check the profile's read permissions (docs/permissions.md). Nothing was changed.",
        ) from exc


def inspect_all(ctx, steps: Sequence[Step] | None = None) -> dict[str, dict]:
    """Every step's facts; the values they found replace ctx.values (None = no longer known).

    The inspections start while the context's preflight lookups are still running (context.start_context): each
    waits only for what it reads. A step that needs a value the state already holds (the key id, the secret ARN)
    runs in the first wave with it; if the step that provides the value finds another one (the key was replaced by
    hand), the step is inspected again. A no-op re-run thus costs about one round of concurrent reads."""
    steps = registered() if steps is None else steps
    known, facts, used = dict(ctx.values), {}, {}

    def run(batch: list[Step]) -> None:
        given = dict(known)  # what this batch's inspections are given (each gets its own copy)
        results = gather(*(lambda s=s: _inspect(s, ctx, given) for s in batch))
        for step, result in zip(batch, results):
            found = unwrap(result)  # the first failure in step order wins
            facts[step.key] = found.facts
            used[step.key] = {v: given.get(v) for v in step.needs}
            for key, value in found.values.items():
                if value is None:
                    known.pop(key, None)
                else:
                    known[key] = value

    try:
        for wave in inspection_waves(steps, {k for k, v in known.items() if v is not None}):
            run(wave)
        for _ in steps:  # at most one pass per step; one is the usual worst case
            stale = [s for s in steps if any(used[s.key][v] != known.get(v) for v in s.needs)]
            if not stale:
                break
            run(stale)
    except Exception:
        ctx.settle()  # a bad input (exit 2) explains an inspection's failure better than the failure itself
        raise
    ctx.values.clear()
    ctx.values.update(known)
    ctx.settle()
    return facts


def plan_setup(ctx, steps: Sequence[Step] | None = None) -> Plan:
    steps = registered() if steps is None else steps
    facts = inspect_all(ctx, steps)
    generate_missing_values(ctx, steps)
    planned = []
    for step in steps:  # pure and ordered: planning may generate values (the external id) that later steps use
        if step.applies is not None and not step.applies(ctx):
            continue
        planned.append((step, step.make_plan(ctx, facts[step.key])))
    # A row's step number is the state file's word: what any step still desires is no other step's to replace.
    desired = {key for _, sp in planned for key in _desired_keys(sp, ctx.values)}
    for step, sp in planned:
        replace_what_is_no_longer_desired(sp, step, ctx.state, ctx.values, steps, desired)
    return Plan("setup", [sp for _, sp in planned])


def generate_missing_values(ctx, steps: Sequence[Step]) -> None:
    """Each value a step generates (Step.generates) that neither the state nor an inspection knows is made now, once,
    before any plan reads it; ctx.generated names them."""
    made = {key: make() for step in steps for key, make in step.generates.items() if ctx.values.get(key) is None}
    ctx.values.update(made)
    ctx.generated = ctx.generated | frozenset(made)


def no_longer_desired(step_plan: StepPlan, step: Step, state: State, values: dict,
                      steps: Sequence[Step] | None = None) -> list[ResourceRow]:
    """Recorded rows of this step that its desired resources no longer name: an input changed (another VPC, another
    consumer principal, another cluster), or the resource was replaced. A desired id still unknown (a Ref: it is
    about to be made) names no recorded row. Only the rows this step recorded: another step that declares the same
    kind (a second KMS alias) keeps its own (steps.step_for_row)."""
    wanted = _desired_keys(step_plan, values)
    return [row for row in recorded_by(step, state.resources, steps) if (row.kind, row.id) not in wanted]


def _desired_keys(step_plan: StepPlan, values: dict) -> set[tuple[str, str]]:
    """(kind, id) of each desired resource whose id is known (a Ref: about to be made, naming no recorded row)."""
    ids = [(r.kind, values.get(r.id.key) if isinstance(r.id, Ref) else r.id) for r in step_plan.desired]
    return {(kind, str(rid)) for kind, rid in ids if rid is not None}


def replace_what_is_no_longer_desired(step_plan: StepPlan, step: Step, state: State, values: dict,
                                      steps: Sequence[Step], elsewhere: set | frozenset = frozenset()) -> None:
    """Never forget what still exists: each recorded row no longer desired is deleted by the step's own teardown
    (which looks it up by its own id, and counts "already gone" as done) after the step has made its replacement.
    Only then is the row forgotten, so a crash at any point leaves it recorded and a re-run finishes the job."""
    old = [row for row in no_longer_desired(step_plan, step, state, values, steps)
           if (row.kind, row.id) not in elsewhere]  # `elsewhere`: what any step of the plan desires
    if not old:
        return
    ordered = [row for row in teardown_order(state, steps) if row in old]
    for row in ordered:
        step_plan.calls.extend(teardown_items(step, row, state))
    what = ", ".join(f"{row.kind.replace('_', ' ')} {row.id}" for row in ordered)
    note = f"replaces {what} (no longer what the configuration asks for; deleted after the new one is made)"
    if step_plan.action is Action.NOOP:
        step_plan.action, step_plan.reason = Action.REPAIR, note
    else:
        step_plan.action = Action.REPLACE
        step_plan.reason = f"{step_plan.reason}; {note}" if step_plan.reason else note


def teardown_order(state: State, steps: Sequence[Step] | None = None) -> list[ResourceRow]:
    """Reverse of the recorded order, moved by each step's teardown_rank: the endpoint first and its security
    group late (AWS takes minutes to release the endpoint's network interfaces, and this way that happens while
    the provider-side resources are deleted), the Data API switch last."""
    steps = registered() if steps is None else steps
    rows = list(reversed(state.resources))

    def rank(row: ResourceRow) -> int:
        return step_for_row(row, steps).teardown_rank.get(row.kind, 0)

    return sorted(rows, key=rank)  # stable: reverse recorded order within a rank


def teardown_items(step: Step, row: ResourceRow, state: State) -> list:
    """The delete items for a recorded row, from its resource type (or, for a shared resource, its step), each guarded
    by the type: right before it runs, AWS must show the resource is this deployment's (a state file is untrusted
    input), else nothing is deleted."""
    rtype = for_kind(row.kind)
    items = rtype.delete(row, state) if rtype is not None else None
    if items is None:
        assert step.teardown is not None, f"no resource type or step deletes {row.kind}"
        items = step.teardown(row, state)
    return [rtype.guard(item, row, state.name) for item in items] if rtype is not None and rtype.guarded else items


def plan_teardown(state: State, steps: Sequence[Step] | None = None) -> Plan:
    steps = registered() if steps is None else steps
    planned: list[StepPlan] = []
    for row in teardown_order(state, steps):
        step = step_for_row(row, steps)
        items = teardown_items(step, row, state)
        if planned and planned[-1].key == step.key:
            planned[-1].calls.extend(items)
        else:
            planned.append(StepPlan(step.number, step.key, step.title, Action.DELETE, "recorded in the state file", items))
    return Plan("teardown", planned)
