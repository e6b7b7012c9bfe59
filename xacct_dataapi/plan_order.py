"""Which steps of a plan may run at once: the order the executor follows, from the plan's data alone."""
from __future__ import annotations

from typing import Any, Sequence

from xacct_dataapi.models import JsonDoc, Record, Ref, StepPlan


def refs_in(value: Any) -> set[str]:
    """The keys of every Ref inside a value (parameters, a document, a record)."""
    if isinstance(value, Ref):
        return {value.key}
    if isinstance(value, JsonDoc):
        return refs_in(value.doc)
    if isinstance(value, dict):
        return set().union(*(refs_in(v) for v in value.values()))
    if isinstance(value, (list, tuple)):
        return set().union(*(refs_in(v) for v in value))
    if isinstance(value, Record):
        return refs_in([value.id, value.arn, value.name])
    return set()


def step_dependencies(steps: Sequence[StepPlan]) -> list[set[int]]:
    """For each step (by index), the earlier steps it must wait for: those in the same account, whose calls go in
    plan order, and those producing a value its items name (a Ref: the endpoint id in the access role's policy
    under --require-private-path). Everything else may run at once: the provider's and the consumer's chains."""
    accounts = [{i.account for i in s.calls} | {i.wait.account for i in s.calls if i.wait} for s in steps]
    gives = [set().union(*(set(i.outputs) | set(i.store) for i in s.calls)) for s in steps]
    needs = [set().union(*(refs_in([getattr(i, "params", {}), i.record, i.wait and i.wait.params]) for i in s.calls))
             - gives[n] for n, s in enumerate(steps)]
    return [{e for e in range(n) if accounts[e] & accounts[n] or gives[e] & needs[n]} for n in range(len(steps))]
