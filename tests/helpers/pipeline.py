"""The pipeline driven the way xacct_dataapi.app drives it (context -> plan -> record who we are -> Runner), without
the CLI: the one copy of app's state preparation, so a change in the core API changes only this module."""
from __future__ import annotations

from pathlib import Path

from xacct_dataapi import state as state_mod
from xacct_dataapi.aws import Sessions
from xacct_dataapi.config import Config
from xacct_dataapi.context import Context, build_context
from xacct_dataapi.app import failing_checks, record_deployment
from xacct_dataapi.models import Plan
from xacct_dataapi.planner import plan_setup, plan_teardown
from xacct_dataapi.runner import Runner
from xacct_dataapi.state import State


def setup_context(cfg: Config, password: str, path: Path) -> Context:
    """app.setup's context: sessions from the config's profiles, the state at path (or a new one)."""
    aws = Sessions.from_profiles(cfg.consumer_profile, cfg.provider_profile, cfg.region)
    return build_context(cfg, aws, state_mod.load(path) or State(name=cfg.name), lambda: password)


def plan_for(cfg: Config, password: str, path: Path) -> tuple[Context, Plan]:
    ctx = setup_context(cfg, password, path)
    return ctx, plan_setup(ctx)


def prepare_state(ctx: Context) -> State:
    """What commands.setup._setup_locked records in the state before the first mutating call."""
    return record_deployment(ctx)


def setup_runner(ctx: Context, plan: Plan, path: Path, **runner_kwargs) -> Runner:
    """prepare_state, then the Runner app.setup makes, with the state saved before the first call as app does it.
    The caller runs `runner.execute(plan)` (or uses apply_setup)."""
    existing = path.exists()
    runner = Runner(ctx.aws, prepare_state(ctx), path, secrets=ctx.secret_inputs(), **runner_kwargs)
    if plan.changes or not existing:
        runner.save()
    return runner


def apply_setup(ctx: Context, plan: Plan, path: Path, **runner_kwargs) -> Runner:
    """What commands.setup._setup_locked does once the plan is confirmed: record, execute, record the outcome."""
    existing = path.exists()
    runner = setup_runner(ctx, plan, path, **runner_kwargs)
    state = runner.state
    previous_error = state.last_error
    runner.execute(plan)
    state.last_error = failing_checks(plan)[0]
    if plan.changes or not existing or state.last_error != previous_error:
        runner.save()
    return runner


def apply_teardown(path: Path, *, key_deletion_days: int | None = None, secret_recovery_days: int | None = None,
                   **runner_kwargs) -> tuple[Plan, Runner, State]:
    """What app.teardown does once confirmed: plan from the state file alone, then execute with the recorded
    profiles and region. Unlike app.teardown it leaves the (then empty) state file in place for inspection."""
    state = state_mod.load(path)
    if key_deletion_days is not None:
        state.config["key_deletion_days"] = key_deletion_days
    state.config["secret_recovery_days"] = secret_recovery_days
    plan = plan_teardown(state)
    aws = Sessions.from_profiles(state.profiles.get("consumer"), state.profiles.get("provider"), state.region)
    runner = Runner(aws, state, path, **runner_kwargs)
    runner.execute(plan)
    return plan, runner, state


def made_in_chain_order(calls_made: list[str], plan: Plan) -> bool:
    """The runner made exactly the plan's mutating calls, each account's in plan order (the provider's and the
    consumer's chains run at once, so how the two interleave varies from run to run)."""
    chains: dict = {}
    for item in plan.calls:
        # The membership check of a new endpoint writes this deployment's facts on its own group (CreateTags); the
        # policy and rules it would rewrite are already the ones a sole member derives.
        if item.changes_aws:
            label = "ec2.create_tags" if item.label == "ec2:confirm_endpoint_membership" else item.label
            chains.setdefault(item.account, []).append(label.replace(":", "."))
    for call in calls_made:
        heads = [chain for chain in chains.values() if chain and chain[0] == call]
        if not heads:
            return False
        heads[0].pop(0)
    return not any(chains.values())
