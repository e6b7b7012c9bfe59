"""`xacct teardown`: every recorded resource AWS shows is this deployment's, deleted in reverse (resource_types
guard each delete); what is not ours is reported, never touched."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from xacct_dataapi import render
from xacct_dataapi import state as state_mod
from xacct_dataapi.aws import Sessions
from xacct_dataapi import connect as connect_mod
from xacct_dataapi.context import check_accounts
from xacct_dataapi.errors import AwsError, Declined, StateError, UsageError
from xacct_dataapi.models import Plan, kept_for_others
from xacct_dataapi.ownership import screen_state
from xacct_dataapi.planner import plan_teardown, teardown_order
from xacct_dataapi.runner import Runner
from xacct_dataapi.state import NoDeployment, State, existing_deployments_hint
from xacct_dataapi.state_s3 import S3Location
from xacct_dataapi.commands.common import sessions_for

if TYPE_CHECKING:  # the use cases only call a Terminal's methods; prompting itself stays at the edge
    from xacct_dataapi.terminal import Terminal


def _no_deployment(state_path: Path | S3Location, found_nothing: str, then: str) -> NoDeployment:
    """A teardown of a name nothing is recorded for (a typo, most likely): where it looked, what exists (exit 2)."""
    where = (f"the team state {state_path.folder}" if isinstance(state_path, S3Location)
             else f"the state folder {state_path.parent}")
    return NoDeployment(f"No deployment named {state_path.stem!r}: no state file {state_path.stem}.json in {where}"
                        f"{found_nothing} (a finished teardown removes it: if that was this one, nothing is left to "
                        "do).", f"{existing_deployments_hint(state_path)} {then}")


def _discover_for_teardown(state_path: Path, consumer_profile, provider_profile, region, ui: Terminal) -> State:
    """No state file: find the deployment's resources by name and tag (read-only), to delete them after review."""
    from xacct_dataapi.discover import discover

    if not (consumer_profile and provider_profile):
        raise UsageError(f"No state file at {state_path}; to find the deployment's resources by tag, both profiles are needed.",
                         "Pass --consumer-profile and --provider-profile (and --name).")
    name = state_path.stem
    aws = Sessions.from_profiles(consumer_profile, provider_profile, region)
    consumer, provider = check_accounts(aws, None)
    state = discover(aws, name, consumer, provider)
    if not state.resources:
        raise _no_deployment(state_path, f", and AWS shows nothing tagged xacct:deployment={name} in consumer "
                                         f"{consumer} / provider {provider}, region {aws.region}",
                             "`xacct list --refresh` also lists the deployments AWS holds with no state file here.")
    ui.note(f"No state file at {state_path}: found {len(state.resources)} resource(s) tagged "
                 f"xacct:deployment={name} in consumer {consumer} / provider {provider}.")
    return state


def _removal(row, item, changed: bool, why: str | None = None) -> dict:
    """What became of one recorded row: deleted now, already gone (a lookup by its id found nothing), kept for
    other deployments (a shared endpoint), or only forgotten (an adopted principal left in place, a policy that
    went with its resource)."""
    if item.changes_aws:
        outcome = ("deleted" if changed else "kept for other deployments" if kept_for_others(why) is not None
                   else "left in place" if str(why).startswith("left") else "already gone")
    else:
        outcome = "left in place" if not row.created else "went with its resource"
    return {"kind": row.kind, "id": row.id, "account": row.account, "created": row.created, "outcome": outcome}


def removal_summary(removed: list[dict]) -> str:
    """e.g. "9 deleted, 2 already gone, 1 went with its resource": only real deletions count as deleted."""
    counts: dict[str, int] = {}
    for r in removed:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    order = ("deleted", "already gone", "kept for other deployments", "went with its resource", "left in place")
    return ", ".join(f"{counts[o]} {o}" for o in order if counts.get(o)) or "nothing"


@dataclass
class TeardownResult:
    plan: Plan
    calls_made: list[str]
    seconds: float
    removed: list[dict]
    plan_doc: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False


def teardown(state_path: Path, ui: Terminal, *, name: str | None = None, consumer_profile: str | None = None, provider_profile: str | None = None,
             region: str | None = None, key_deletion_days: int | None = None, secret_recovery_days: int | None = None,
             wait_timeout: float = 300.0, dry_run: bool = False) -> TeardownResult:
    started = time.monotonic()
    if key_deletion_days is not None and not 7 <= key_deletion_days <= 30:
        raise UsageError(f"--key-deletion-days {key_deletion_days} is out of range.", "AWS accepts 7 to 30 days.")
    if secret_recovery_days is not None and not 7 <= secret_recovery_days <= 30:
        raise UsageError(f"--secret-recovery-days {secret_recovery_days} is out of range.",
                         "AWS accepts 7 to 30 days; omit it to delete the secret without a recovery window.")
    with state_mod.locked(state_path):
        state = state_mod.load(state_path)
        discovered = False
        if state is None and (consumer_profile or provider_profile):
            state = _discover_for_teardown(state_path, consumer_profile, provider_profile, region, ui)
            discovered = True
        if state is None:
            raise _no_deployment(state_path, "", "If its state file is lost but its resources remain in AWS, pass "
                                                 "--consumer-profile and --provider-profile to find them by tag.")
        if name is not None and name != state.name:
            raise StateError(f"State file {state_path} belongs to deployment {state.name!r}, not {name!r}.",
                             "Pass the matching --name, or another --state path.")
        if key_deletion_days is not None:
            state.config["key_deletion_days"] = key_deletion_days
        state.config["secret_recovery_days"] = secret_recovery_days
        aws = sessions_for(state, consumer_profile, provider_profile, region)
        check_accounts(aws, state)
        screened = screen_state(aws, state)
        plan = plan_teardown(state)
        if discovered:
            for step in plan.steps:
                step.reason = "found in AWS by name and xacct:deployment tag (no state file)"
        recorded = {(r.kind, r.id): r for r in teardown_order(state)}
        plan_doc = render.plan_json(plan, {"name": state.name, "region": state.region, "accounts": state.accounts,
                                           "state_file": str(state_path)})
        table = render.plan_table(plan, f"xacct teardown plan — deployment {state.name!r}, consumer "
                                        f"{state.accounts.get('consumer')} / provider {state.accounts.get('provider')}, "
                                        f"{state.region}")
        ui.show_plan(plan, table, plan_doc, dry_run)
        for row, why in screened.refused:
            ui.note(f"Not ours, left alone: {row.kind.replace('_', ' ')} {row.id} ({why}).")
        if dry_run:
            if not ui.json:
                ui.note("Dry run: nothing was changed.")
            return TeardownResult(plan, [], time.monotonic() - started, [], {}, [], dry_run=True)
        if plan.changes:
            if not ui.confirm("Delete these resources?"):
                raise Declined("Declined: nothing was changed.", "Re-run and answer yes, or pass --yes.")
            started = time.monotonic()
            runner = Runner(aws, state, state_path, ui.progress(plan), wait_timeout=wait_timeout)
            try:
                with runner.reporter:
                    runner.execute(plan)
            finally:
                # In plan order: the two accounts' deletions run at once and land in any order.
                order = {id(item): n for n, item in enumerate(plan.calls)}
                removed = [_removal(recorded[item.forget], item, changed, why) for item, changed, why
                           in sorted(runner.forgotten, key=lambda f: order.get(id(f[0]), len(order)))]
            calls, notes = runner.calls_made, runner.notes
        else:
            calls, notes, removed = [], [], []
        if state.resources:
            state_mod.save(state, state_path)
            raise AwsError(f"Teardown left {len(state.resources)} resource(s) recorded in {state_path}.",
                           "Re-run `xacct teardown` to retry them.")
        if state_path.exists():
            state_mod.remove(state_path)
        removed_profiles = connect_mod.remove_profiles(state.name)
        if removed_profiles:
            notes.append(f"Removed {', '.join(removed_profiles)} that `xacct connect --write` added to "
                         f"{connect_mod.config_path()} for this deployment (the previous file is kept as .xacct-backup).")
        if screened.refused:
            raise screened.refusal(state_path)
        return TeardownResult(plan, calls, time.monotonic() - started, removed, plan_doc, notes)
