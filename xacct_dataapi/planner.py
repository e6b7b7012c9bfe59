"""The pipeline: inputs -> preflight (read-only) -> inspect each step (read-only) -> plan (pure) -> runner.

plan_setup makes only describe/get/list calls and returns a Plan: per step, the exact API calls it
would make (with policy documents as they will be written) or, for a no-op, the reason. `--dry-run`
prints this plan; `setup` prints it, asks, and hands the same object to the runner. plan_teardown needs
no AWS at all: it reverses the resources recorded in the state file.
"""
from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from xacct_dataapi.parallel import gather, unwrap
from xacct_dataapi.errors import AwsError, error_message
from xacct_dataapi.models import Action, Plan, StepPlan
from xacct_dataapi.state import State
from xacct_dataapi.steps import STEPS, step_for_kind


# Inspections that read values another step's inspection finds (the key id, the secret ARN) run in a
# second wave; all others are independent and run concurrently, since each costs AWS round trips.
SECOND_WAVE = ("key_policy", "secret_policy")


def _inspect(step, ctx):
    try:
        return step.module.inspect(ctx)
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(
            f"Step {step.number} ({step.title}): reading the current state failed: {error_message(exc)}.",
            "Check the profile's read permissions (docs/permissions.md). Nothing was changed.",
        ) from exc


def plan_setup(ctx) -> Plan:
    facts = {}
    for wave in ([s for s in STEPS if s.key not in SECOND_WAVE], [s for s in STEPS if s.key in SECOND_WAVE]):
        results = gather(*(lambda s=s: _inspect(s, ctx) for s in wave))
        for step, result in zip(wave, results):
            facts[step.key] = unwrap(result)  # the first failure in step order wins
    steps = []
    for step in STEPS:  # planning is pure and ordered: it may generate values (the external id)
        steps.append(step.module.plan(ctx, facts[step.key]))
    return Plan("setup", steps)


def teardown_order(state: State) -> list:
    """Reverse of the recorded order, except that the endpoint goes first and its security group (and the
    Data API switch) last: AWS takes minutes to release the endpoint's network interfaces, and this way
    that happens while the provider-side resources are deleted instead of before."""
    rows = list(reversed(state.resources))
    first = [r for r in rows if r.kind == "vpc_endpoint"]
    late = [r for r in rows if r.kind == "security_group"]
    last = [r for r in rows if r.kind == "data_api"]
    middle = [r for r in rows if r.kind not in ("vpc_endpoint", "security_group", "data_api")]
    return first + middle + late + last


def plan_teardown(state: State) -> Plan:
    steps: list[StepPlan] = []
    for row in teardown_order(state):
        step = step_for_kind(row.kind)
        calls = step.module.teardown(row, state)
        if steps and steps[-1].key == step.key:
            steps[-1].calls.extend(calls)
        else:
            steps.append(StepPlan(step.number, step.key, step.title, Action.DELETE, "recorded in the state file", calls))
    return Plan("teardown", steps)
