"""The eight steps (plus the Data API prerequisite), in EXECUTION order — the only place it is written.

Display numbers follow the recipe; execution follows what real AWS enforces:
- the access role (5) must exist before the secret policy (4) names it as a principal;
- the role's permissions name the key (1) and the secret (3), whose ARNs are random, so they come first;
- the consumer principal (6) is created early so IAM has time to propagate it before anyone uses it;
- the endpoint (7) and the Data API switch go first: they are the slow AWS-side work (an interface endpoint
  takes minutes to become available), and their waits are deferred to the end of the run, so they
  overlap with the IAM/KMS/Secrets Manager steps. Nothing in steps 1-6 depends on them: the endpoint
  policy names the access role by its deterministic ARN in a condition, which needs no existing role.
"""
from __future__ import annotations

from xacct_dataapi.models import Step
from xacct_dataapi.steps import (
    access_role,
    consumer_principal,
    data_api,
    db_user,
    endpoint,
    key_policy,
    kms_key,
    nacl_check,
    secret,
    secret_policy,
)

STEPS: tuple[Step, ...] = tuple(
    m.STEP
    for m in (data_api, endpoint, kms_key, consumer_principal, key_policy, secret, access_role, secret_policy, nacl_check,
              db_user)  # last: it needs the secret, and the Data API on
)


def registered() -> tuple[Step, ...]:
    """STEPS, looked up when called: every command reads the steps through this (or is given them), so a step added
    to STEPS (or, in a test, set in its place) reaches plan, status, doctor, export, discovery and teardown alike."""
    return STEPS


def numbered(steps: tuple[Step, ...] | None = None) -> tuple[Step, ...]:
    """The recipe's steps in display order (the Data API prerequisite, number 0, is not one of them)."""
    steps = registered() if steps is None else steps
    return tuple(sorted((s for s in steps if s.number > 0), key=lambda s: s.number))


def step_for_kind(kind: str, steps: tuple[Step, ...] | None = None) -> Step:
    """The first step (in execution order) that declares `kind`: the one a row of it belongs to unless it says
    otherwise (step_for_row)."""
    steps = registered() if steps is None else steps
    for s in steps:
        if kind in s.kinds:
            return s
    raise KeyError(kind)


def step_for_row(row, steps: tuple[Step, ...] | None = None) -> Step:
    """The step that recorded `row`. Several steps may declare one kind (a second KMS alias): the row's display
    number (ResourceRow.step, written by the executor) tells them apart; a row whose number no step declaring its
    kind carries (an old state file, where one step declared it) belongs to the first."""
    steps = registered() if steps is None else steps
    declaring = [s for s in steps if row.kind in s.kinds]
    if not declaring:
        raise KeyError(row.kind)
    return next((s for s in declaring if s.number == row.step), declaring[0])


def recorded_by(step: Step, rows, steps: tuple[Step, ...] | None = None) -> list:
    """The rows among `rows` that `step` recorded (step_for_row)."""
    return [r for r in rows if r.kind in step.kinds and step_for_row(r, steps).key == step.key]
