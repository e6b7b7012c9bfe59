"""`xacct status`: each step's state, derived read-only from the same inspect -> desired -> plan as setup."""
from __future__ import annotations

from typing import Sequence

from xacct_dataapi.models import Action, Plan, Resource, Step, StepPlan, render_value
from xacct_dataapi.state import State
from xacct_dataapi.steps import numbered, recorded_by, registered, step_for_row


def _only_records(step: StepPlan) -> bool:
    """Everything is in place in AWS; the plan would only write rows in the state file."""
    return all(c.bookkeeping for c in step.calls)


def _recreates_recorded(step: StepPlan, recorded_kinds: set[str]) -> bool:
    """Would the plan create again something xacct had recorded (so it was there, and is gone)?"""
    return any(c.record is not None and c.changes_aws and c.record.kind in recorded_kinds for c in step.calls)


def step_status(step: StepPlan, state: State, kinds: tuple[str, ...],
                steps: Sequence[Step] | None = None) -> tuple[str, list[str]]:
    # The kinds of the rows this step recorded (another step may record rows of the same kind: steps.step_for_row).
    recorded = {r.kind for r in state.resources if r.kind in kinds and step_for_row(r, steps).key == step.key}
    failed = (state.last_error or {}).get("step") == step.number
    if step.foreign:  # kept by setup, so no re-run clears it: the operator removes it
        return "failed", list(step.foreign) + ([step.reason] if step.action is not Action.NOOP else [])
    if step.action is Action.NOOP:
        return "done", []
    if step.action is Action.CHECK:
        return "failed", list(step.problems)
    if failed and not recorded:
        return "failed", [str((state.last_error or {}).get("message", "")), step.reason]
    if step.problems and recorded:
        # Drift only means something for what xacct wrote; an unfinished step is pending, not drifted.
        return "drifted", list(step.problems) + ([step.reason] if step.reason not in step.problems else [])
    if step.action is Action.REPAIR and _only_records(step):
        return "done", ["exists but is not in the state file; `xacct setup` records it"]
    if _recreates_recorded(step, recorded):
        return "missing", [step.reason]
    if failed:
        return "failed", [str((state.last_error or {}).get("message", "")), step.reason]
    return "pending", [step.reason]


def _desired_json(resource: Resource) -> dict:
    return {"kind": resource.kind, "id": render_value(resource.id), "account": resource.account.value}


def status_report(plan: Plan, state: State, steps: Sequence[Step] | None = None) -> dict:
    steps = registered() if steps is None else steps
    by_key = {s.key: s for s in plan.steps}
    reported = []
    for st in (st for st in numbered(tuple(steps)) if st.key in by_key):  # an optional step may not apply
        sp = by_key[st.key]
        status, detail = step_status(sp, state, st.kinds, steps)
        reported.append({
            "number": st.number,
            "key": st.key,
            "title": st.title,
            "status": status,
            "reason": sp.reason,
            "detail": detail,
            "drift": sp.drift if status == "drifted" else [],
            "foreign": list(sp.foreign),  # what xacct did not make and setup keeps: only its removal clears it
            "desired": [_desired_json(r) for r in sp.desired],
            "resources": [
                {"kind": r.kind, "id": r.id, "arn": r.arn, "account": r.account, "created": r.created}
                for r in recorded_by(st, state.resources, steps)
            ],
        })
    data_api = by_key.get("data_api")
    return {
        "name": state.name,
        "region": state.region,
        "accounts": state.accounts,
        "data_api": "on" if data_api is None or data_api.action is Action.NOOP or _only_records(data_api) else "off",
        "all_done": all(s["status"] == "done" for s in reported),
        "steps": reported,
        "last_error": state.last_error,
    }
