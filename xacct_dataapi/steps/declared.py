"""A step that only declares its resources: which kind, which name, which desired properties. The planning is the
same for all of them, done here with each resource's type (resource_types):

- absent (or gone)                  -> the type's create items (which record the row);
- present, not this deployment's    -> refused, naming the resource (nothing is adopted or changed); what lives in
                                       a resource of ours (its type's `inside`: an inline policy) is ours;
- present, ours, differing          -> the type's update items, each difference a problem line;
- differing where AWS cannot update -> replaced in place (terraform's ForceNew; the type's `replacement`): deleted
                                       through its type, guarded, then created again with what lives in it; refused
                                       (a check) while something xacct did not add reaches it;
- present, ours, not recorded       -> adopted: a Bookkeeping item records it;
- recorded but no longer desired    -> replaced: planner.replace_what_is_no_longer_desired deletes it through its
                                       type (guarded) after the new one is made, and forgets it only once it is gone.

Discovery, teardown, the ownership screen, doctor, export and permissions read the types, so a declared step
needs nothing but its declaration (and, for a new kind, one module in resource_types/).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from xacct_dataapi.errors import UsageError
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.models import Action, Bookkeeping, Inspection, PlanItem, Ref, Resource, Step, StepPlan
from xacct_dataapi.resource_types import TYPES
from xacct_dataapi.resource_types.base import GONE, NOT_OURS, _Probe
from xacct_dataapi.state import ResourceRow


class _Inspecting:
    """The context as an inspection sees it: the values found by the inspections before it (`known`), not yet
    merged into the context's own. Read-only: an inspection generates no value (no external id)."""

    def __init__(self, ctx, known: dict):
        self._ctx, self.values = ctx, known

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)

    def known(self, key: str):
        value = self.values.get(key)
        return value if value is not None else Ref(key)

    def external_id(self):
        return self.known("external_id")

    external_id_param = external_id


def _container(r: Resource, readable: list[Resource]) -> Resource | None:
    """The desired resource `r` lives in (its type's `inside`; its id is `<container id>/...`), if declared too."""
    kinds = TYPES[r.kind].inside
    return next((c for c in readable if c.kind in kinds and str(r.id).startswith(f"{c.id}/")), None)


def _read_all(ctx, desired: list[Resource]) -> tuple[dict, list[str], list]:
    """What AWS holds for each desired resource whose name is known (a Ref: made by this run, nothing to read), and
    what reaches it that xacct did not make (its type's `foreign`), all read at the same time: one round trip. A
    resource that lives in another one declared beside it is read without it, then joined to what was read of it.
    A resource whose id AWS makes (its type is `located`) is found by its type, keyed by the id AWS gave it: the
    search by tag starts beside the reads when no id is recorded; the third value pairs each with what was found."""
    readable = [r for r in desired if not isinstance(r.id, Ref) and not TYPES[r.kind].located]
    located = [r for r in desired if TYPES[r.kind].located]
    containers = {(r.kind, r.id): _container(r, readable) for r in readable}

    def search(r: Resource):
        return TYPES[r.kind].search(lambda service: ctx.client(r.account, service), ctx.names)

    def read(r: Resource):
        rtype, probe = TYPES[r.kind], _Probe(r.id)
        if rtype.reads_through_arn:  # known only once its resource is this deployment's
            probe.arn = None if isinstance(r.arn, Ref) else r.arn
        client = ctx.client(r.account, rtype.service)
        return (rtype.read_part if containers[(r.kind, r.id)] else rtype.read)(client, probe)

    def foreign(r: Resource) -> list[str]:
        return TYPES[r.kind].foreign(ctx.client(r.account, TYPES[r.kind].service), r)

    early = [r for r in located if isinstance(r.id, Ref)]
    results = gather(*(lambda r=r: read(r) for r in readable), *(lambda r=r: foreign(r) for r in readable),
                     *(lambda r=r: search(r) for r in early))
    found = {(r.kind, r.id): unwrap(result) for r, result in zip(readable, results)}
    for r in readable:
        container = containers[(r.kind, r.id)]
        if container is not None:
            found[(r.kind, r.id)] = TYPES[r.kind].joined(found[(r.kind, r.id)], found[(container.kind, container.id)])
    searched = {id(r): result for r, result in zip(early, results[2 * len(readable):])}
    pairs = []
    for r in located:
        rtype = TYPES[r.kind]
        have = rtype.locate(found, r, ctx.names, lambda: rtype.read(ctx.client(r.account, rtype.service), _Probe(r.id)),
                            lambda: unwrap(searched[id(r)]) if id(r) in searched else search(r))
        if have is not None:
            found[(r.kind, TYPES[r.kind].id_of(have))] = have
        pairs.append((r, have))
    return found, [line for result in results[len(readable):2 * len(readable)] for line in unwrap(result)], pairs


def refusal(r: Resource, why: str, deployment: str) -> UsageError:
    noun = TYPES[r.kind].noun
    article = "An" if noun[:1].lower() in "aeiou" else "A"
    return UsageError(f"{article} {noun} named {r.id!r} already exists in the {r.account.value} account but is not "
                      f"deployment {deployment!r}'s: {why}.",
                      "xacct will not adopt or change it. " + (TYPES[r.kind].refused_fix or "Choose another deployment "
                                                               "name with --name, or remove that resource."))


def _named(resource_id) -> str:
    """A resource's name for a reason line. A Ref names what an earlier step has not made yet (the key policy's key):
    its placeholder (${key_id}) means nothing to a reader, so the reason says which resource is still to come."""
    if isinstance(resource_id, Ref):
        made_by = resource_id.key.removesuffix("_id").removesuffix("_arn").replace("_", " ")
        return f"(the {made_by} is not made yet)"
    return str(resource_id)


def _made(r: Resource) -> list[PlanItem]:
    """The type's create items, the first one recording the values the resource names before it runs."""
    items = TYPES[r.kind].create(r)
    if r.stores:
        items[0].store = {**items[0].store, **r.stores}
    return items


def _replaced(ctx, step: StepPlan, r: Resource, have, why: list[str]) -> list[PlanItem]:
    """Delete the resource through its type, guarded (AWS must show it is this deployment's right before), and make
    it again. Its row stays: the same name is recorded again by the create, so a crash between the two leaves a row
    whose resource is gone, which the re-run makes."""
    rtype = TYPES[r.kind]
    row = ResourceRow(step.number, r.kind, str(r.id), r.account.value, arn=rtype.record(r, have).arn)
    deletes = []
    for item in rtype.delete(row, ctx.state) or []:
        item = replace(item, forget=None, description=f"{item.description} ({'; '.join(why)})")
        deletes.append(rtype.guard(item, row, ctx.names.deployment) if rtype.guarded else item)
    return deletes + _made(r)


def _recorded(ctx, r: Resource, have) -> tuple[list[PlanItem], str]:
    """Record a resource that is this deployment's but not (or not as it is now) in the state file, and why."""
    rtype = TYPES[r.kind]
    row, want = ctx.state.find(r.kind, str(r.id)), rtype.record(r, have)
    if not row:
        return [Bookkeeping(r.account, record=want, store=dict(r.stores),
                            description=f"record {rtype.noun} {r.id} (it is this deployment's)")], \
            f"{rtype.noun} {r.id} exists but was not recorded"
    if isinstance(want.arn, str) and row.arn and row.arn != want.arn:  # made again by a run killed right after
        return [Bookkeeping(r.account, record=want, description=f"record the ARN of {rtype.noun} {r.id}")], \
            f"the recorded ARN of {rtype.noun} {r.id} is an old one"
    return [], ""


def plan_resources(ctx, step: StepPlan, found: dict, desired: list[Resource], foreign: list[str] = (),
                   after_create: Callable[..., list[PlanItem]] | None = None) -> StepPlan:
    """The generic diff of each desired resource against what AWS holds (module docstring)."""
    reasons, created, replaced, updated, adopted, verdicts = [], [], [], False, False, {}
    for r in desired:
        rtype, container = TYPES[r.kind], _container(r, desired)
        have = found.get((r.kind, r.id))
        if container in replaced:
            step.calls += _made(r)  # it went with the resource it lives in
            continue
        verdict = None
        if have is not None:
            # What lives in a resource of this deployment's is its own: repaired when it differs, never refused.
            verdict = verdicts.get((container.kind, container.id)) if container else None
            verdict = verdicts[(r.kind, r.id)] = verdict or rtype.judge(have, _Probe(r.id), ctx.names)
        if verdict is not None and verdict.verdict == NOT_OURS:
            raise refusal(r, verdict.why, ctx.names.deployment)
        if have is None or verdict.verdict == GONE:
            step.calls += _made(r)
            created.append(r)
            # a located kind has no name to give: none of this deployment's was found
            reasons.append(f"no {rtype.noun} of deployment {ctx.names.deployment!r}" if rtype.located
                           else f"no {rtype.noun} {_named(r.id)}")
            continue
        why = rtype.replacement(have, r)
        if why and foreign:  # deleting it would remove what xacct did not add: not xacct's to remove
            step.calls, step.action = [], Action.CHECK
            step.reason = (f"{rtype.noun} {r.id} must be replaced ({'; '.join(why)}), but it carries what xacct did "
                           "not add")
            return step
        if why:
            step.calls += _replaced(ctx, step, r, have, why)
            replaced.append(r)
            reasons.append("; ".join(why) + "; replaced")
            continue
        diffs, asked = rtype.differences(have, r), rtype.requested(have, r)
        updates = rtype.update(have, r) if diffs or asked else []
        if updates:
            step.calls += updates
            step.problems += diffs
            step.drift += rtype.drift(have, r) if diffs else []
            updated = True
            reasons.append(f"{rtype.noun} {r.id} differs: " + "; ".join(diffs) if diffs else "; ".join(asked))
        bookkeeping, why_record = _recorded(ctx, r, have)
        if bookkeeping and not any(item.record and item.record.kind == r.kind for item in updates):
            step.calls += bookkeeping
            adopted = True
            reasons.append(why_record)
    if created and after_create is not None:
        step.calls += after_create(ctx, created)
    # The strongest of what the step does names it: a create beside an adoption is still a create.
    step.action = (Action.REPLACE if replaced else Action.REPAIR if updated else Action.CREATE if created
                   else Action.REPAIR if adopted else Action.NOOP)
    step.reason = "; ".join(reasons) or ", ".join(
        f"with its {TYPES[r.kind].noun}" if _container(r, desired) else f"{TYPES[r.kind].noun} {r.id} is current"
        for r in desired)
    return step


def declare(number: int, key: str, title: str, kinds: tuple[str, ...], desired: Callable[..., list[Resource]], *,
            needs: tuple[str, ...] = (), provides: tuple[str, ...] = (), teardown_rank: dict | None = None,
            after_create: Callable[..., list[PlanItem]] | None = None, generates: dict | None = None) -> Step:
    """A Step from a declaration: `desired(ctx)` names the resources (kind, name, account, properties, tags), pure.
    Its inspection reads them through their types (and gives the values in `provides`, from each type's `values`);
    its plan is plan_resources. `after_create(ctx, created)`: items a run that creates resources adds after them."""

    def inspect(ctx, known) -> Inspection:
        want = desired(_Inspecting(ctx, known))
        found, foreign, located = _read_all(ctx, want)
        values = {}
        for r in want:
            if (r.kind, r.id) in found and not TYPES[r.kind].located:
                values.update(TYPES[r.kind].values(found[(r.kind, r.id)], r, ctx.names, known))
        for r, have in located:  # None when none is found: the value is no longer known
            values.update(TYPES[r.kind].values(have, r, ctx.names, known))
        return Inspection({"found": found, "foreign": foreign}, {k: v for k, v in values.items() if k in provides})

    def plan(ctx, facts: dict, want: list[Resource]) -> StepPlan:
        foreign = list(facts.get("foreign", []))
        step = plan_resources(ctx, StepPlan(number, key, title, Action.NOOP, ""), facts["found"], want, foreign,
                              after_create)
        step.foreign = foreign
        return step

    return Step(number, key, title, kinds, inspect=inspect, desired=desired, plan=plan, needs=needs,
                provides=provides, teardown_rank=teardown_rank or {}, generates=generates or {})
