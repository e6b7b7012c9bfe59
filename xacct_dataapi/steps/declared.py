"""A step that only declares its resources: which kind, which name, which desired properties. The planning is the
same for all of them, done here with each resource's type (resource_types):

- absent (or gone)                  -> the type's create items (which record the row);
- present, not this deployment's    -> refused, naming the resource (nothing is adopted or changed);
- present, ours, differing          -> the type's update items, each difference a problem line;
- present, ours, not recorded       -> adopted: a Bookkeeping item records it;
- recorded but no longer desired    -> replaced: planner.replace_what_is_no_longer_desired deletes it through its
                                       type (guarded) after the new one is made, and forgets it only once it is gone.

Discovery, teardown, the ownership screen, doctor, export and permissions read the types, so a declared step
needs nothing but its declaration (and, for a new kind, one module in resource_types/).
"""
from __future__ import annotations

from typing import Callable

from xacct_dataapi.errors import UsageError
from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.models import Action, Bookkeeping, Inspection, Ref, Resource, Step, StepPlan
from xacct_dataapi.resource_types import TYPES
from xacct_dataapi.resource_types.base import GONE, NOT_OURS, _Probe


class _Inspecting:
    """The context as an inspection sees it: the values found by the inspections before it (`known`), not yet
    merged into the context's own."""

    def __init__(self, ctx, known: dict):
        self._ctx, self.values = ctx, known

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)

    def known(self, key: str):
        value = self.values.get(key)
        return value if value is not None else Ref(key)


def _read_all(ctx, desired: list[Resource]) -> tuple[dict, list[str]]:
    """What AWS holds for each desired resource whose name is known (a Ref: made by this run, nothing to read), and
    what reaches it that xacct did not make (its type's `foreign`), read at the same time."""
    found, foreign = {}, []
    for r in desired:
        if isinstance(r.id, Ref):
            continue
        rtype, probe = TYPES[r.kind], _Probe(r.id)
        probe.arn = None if isinstance(r.arn, Ref) else r.arn  # known only once its resource is this deployment's
        client = ctx.client(r.account, rtype.service)
        have, others = gather(lambda: rtype.read(client, probe), lambda: rtype.foreign(client, r))
        found[(r.kind, r.id)] = unwrap(have)
        foreign += unwrap(others)
    return found, foreign


def refusal(r: Resource, why: str, deployment: str) -> UsageError:
    noun = TYPES[r.kind].noun
    return UsageError(f"A {noun} named {r.id!r} already exists in the {r.account.value} account but is not deployment "
                      f"{deployment!r}'s: {why}.",
                      "xacct will not adopt or change it. Choose another deployment name with --name, or remove "
                      "that resource.")


def plan_resources(ctx, step: StepPlan, found: dict, desired: list[Resource]) -> StepPlan:
    """The generic diff of each desired resource against what AWS holds (module docstring)."""
    reasons = []
    for r in desired:
        rtype = TYPES[r.kind]
        have = found.get((r.kind, r.id))
        verdict = rtype.judge(have, _Probe(r.id), ctx.names) if have is not None else None
        if verdict is not None and verdict.verdict == NOT_OURS:
            raise refusal(r, verdict.why, ctx.names.deployment)
        if have is None or verdict.verdict == GONE:
            step.calls += rtype.create(r)
            step.action = Action.CREATE if step.action in (Action.NOOP, Action.CREATE) else step.action
            reasons.append(f"no {rtype.noun} {r.id}")
            continue
        diffs = rtype.differences(have, r)
        if diffs:
            step.calls += rtype.update(have, r)
            step.problems += diffs
            step.drift += rtype.drift(have, r)
            step.action = Action.REPAIR
            reasons.append(f"{rtype.noun} {r.id} differs: " + "; ".join(diffs))
        if not ctx.state.find(r.kind, str(r.id)):
            step.calls.append(Bookkeeping(r.account, record=rtype.record(r, have),
                                          description=f"record {rtype.noun} {r.id} (it is this deployment's)"))
            step.action = Action.REPAIR if step.action is Action.NOOP else step.action
            reasons.append(f"{rtype.noun} {r.id} exists but was not recorded")
    step.reason = "; ".join(reasons) or ", ".join(f"{TYPES[r.kind].noun} {r.id} is current" for r in desired)
    return step


def declare(number: int, key: str, title: str, kinds: tuple[str, ...], desired: Callable[..., list[Resource]], *,
            needs: tuple[str, ...] = (), teardown_rank: dict | None = None) -> Step:
    """A Step from a declaration: `desired(ctx)` names the resources (kind, name, account, properties, tags), pure.
    Its inspection reads them through their types; its plan is plan_resources."""

    def inspect(ctx, known) -> Inspection:
        found, foreign = _read_all(ctx, desired(_Inspecting(ctx, known)))
        return Inspection({"found": found, "foreign": foreign})

    def plan(ctx, facts: dict, want: list[Resource]) -> StepPlan:
        step = plan_resources(ctx, StepPlan(number, key, title, Action.NOOP, ""), facts["found"], want)
        step.foreign = list(facts.get("foreign", []))
        return step

    return Step(number, key, title, kinds, inspect=inspect, desired=desired, plan=plan, needs=needs,
                teardown_rank=teardown_rank or {})
