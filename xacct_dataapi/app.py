"""Use cases behind the commands: setup, status, teardown, verify. The CLI parses; this orchestrates."""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from xacct_dataapi import cost, render
from xacct_dataapi import graph as graph_mod
from xacct_dataapi import state as state_mod
from xacct_dataapi import state_s3
from xacct_dataapi.state_s3 import S3Location
from xacct_dataapi.aws import Sessions
from xacct_dataapi.connect import handoff_summary
from xacct_dataapi.config import Config, state_dir, state_path_for, validate_name
from xacct_dataapi.context import check_accounts, start_context
from xacct_dataapi.errors import AwsError, Declined, StateError, UsageError
from xacct_dataapi.models import Action, Plan, Sensitive
from xacct_dataapi.ownership import screen_state
from xacct_dataapi.planner import plan_setup, plan_teardown, teardown_order
from xacct_dataapi.runner import Runner
from xacct_dataapi.state import State
from xacct_dataapi.status import status_report

if TYPE_CHECKING:  # the use cases only call a Terminal's methods; prompting itself stays at the edge
    from xacct_dataapi.terminal import Terminal


def resolve_state_path(state: Path | S3Location | None, name: str | None) -> Path | S3Location:
    """--state as given (an S3 prefix gets the deployment's file name), else XACCT_STATE (team state: an S3 prefix),
    else .xacct/<name>.json here."""
    if state is None and os.environ.get("XACCT_STATE"):
        state = state_location(os.environ["XACCT_STATE"])
    if isinstance(state, S3Location):
        return state.for_name(validate_name(name or "default"))
    if state is not None:
        return state
    path = state_path_for(validate_name(name or "default"))
    # IAM names are case-insensitive (a role "xacct-Dup-..." and "xacct-dup-..." are the same role), and so is
    # macOS's file system: --name Dup and --name dup must not be two deployments.
    for other in path.parent.glob("*.json") if path.parent.is_dir() else []:
        if other.stem.lower() == path.stem.lower() and other.stem != path.stem:
            raise UsageError(f"--name {path.stem!r}: deployment {other.stem!r} already exists here, and AWS treats the "
                             "names of IAM roles and users as the same regardless of case.",
                             f"Use --name {other.stem} for that deployment, or a name that differs by more than case.")
    return path


def state_location(value: str) -> Path | S3Location:
    """A state location as the operator writes it: s3://BUCKET/PREFIX/ (team state) or a local path."""
    return S3Location.parse(value) if value.startswith(state_s3.SCHEME) else Path(value)


def password_source(from_stdin: bool, ui: Terminal, db_user: str = "the database user") -> Callable[[], str]:
    """The DB password, read once, only if a call needs it. Never from argv; never stored."""
    cache: dict[str, str] = {}

    def get() -> str:
        if "pw" in cache:
            return cache["pw"]
        if os.environ.get("XACCT_DB_PASSWORD"):
            pw = os.environ["XACCT_DB_PASSWORD"]
        elif from_stdin:
            pw = sys.stdin.readline().rstrip("\r\n")
        elif ui.stdin_tty():
            pw = ui.prompt_secret(f"Password of database user {db_user} (stored only in the secret)")
        else:
            raise UsageError("The DB password is needed to create the secret, but none was given and stdin is not a terminal.",
                             "Set XACCT_DB_PASSWORD in the environment or pipe it with --db-password-stdin.")
        if not pw:
            raise UsageError("The DB password is empty.", "Set XACCT_DB_PASSWORD or pipe it with --db-password-stdin.")
        cache["pw"] = pw
        return pw

    return get


def needs_password(plan: Plan) -> bool:
    def has(value) -> bool:
        if isinstance(value, Sensitive):
            return True
        if isinstance(value, dict):
            return any(has(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return any(has(v) for v in value)
        return False

    return any(has(c.params) for c in plan.calls)


def record_deployment(ctx) -> State:
    """Record who we are in the state before the first mutating call, so a crash at any point leaves a valid
    state: region, profiles, accounts, the configuration, and every value the planning found."""
    state, cfg = ctx.state, ctx.cfg
    state.region = ctx.region
    state.profiles = {"consumer": cfg.consumer_profile, "provider": cfg.provider_profile}
    state.accounts = {"consumer": ctx.consumer_account, "provider": ctx.provider_account}
    state.config = {**state.config, **cfg.to_json()}
    state.values.update({k: v for k, v in ctx.values.items() if v is not None})
    state.values["cluster_engine_mode"] = ctx.cluster.engine_mode
    # The hand-off (connect, verify) reads these; the database is the secret's dbname, sent on every Data API call.
    state.values["cluster_engine"] = ctx.cluster.engine
    state.values["database"] = ctx.secret_fields()["fields"]["dbname"]
    return state


def failing_checks(plan: Plan) -> tuple[dict | None, list[str]]:
    """The last_error a failing check leaves in the state (None if every check passes), and every problem."""
    failing = [s for s in plan.steps if s.action is Action.CHECK]
    problems = [p for s in failing for p in s.problems]
    if not problems:
        return None, []
    return {"step": failing[0].number, "title": failing[0].title, "message": problems[0]}, problems


# The setup flags a state file records, as (Config field, flag): re-running `setup --name N` alone re-applies them.
RECORDED_FLAGS = (
    ("provider_profile", "--provider-profile"), ("consumer_profile", "--consumer-profile"), ("region", "--region"),
    ("cluster", "--cluster"), ("vpc_id", "--vpc"), ("subnet_ids", "--subnets"), ("db_user", "--db-user"),
    ("db_name", "--db-name"), ("consumer_role", "--consumer-role"), ("consumer_user", "--consumer-user"),
    ("enable_data_api", "--enable-data-api"), ("key_deletion_days", "--key-deletion-days"),
    ("endpoint_policy", "--endpoint-policy"), ("secret_readers", "--secret-reader"),
    ("require_private_path", "--require-private-path"), ("client_cidrs", "--client-cidr"),
)
REQUIRED_FLAGS = ("provider_profile", "cluster", "vpc_id", "subnet_ids")


def setup_config(state_path: Path, name: str | None, given: dict, rotate_password: bool = False) -> tuple[Config, list[str]]:
    """The configuration for this run: what the state file records, overridden by every flag given (None = not
    given), and the list of inputs that differ from the recorded ones ("--vpc: vpc-a -> vpc-b")."""
    recorded_state = state_mod.load(state_path)
    recorded: dict = {}
    if recorded_state is not None:
        recorded = {**Config.from_json({**recorded_state.config, "name": recorded_state.name},
                                       consumer_profile=recorded_state.profiles.get("consumer"),
                                       provider_profile=recorded_state.profiles.get("provider"),
                                       region=recorded_state.region).__dict__}
        if name is not None and name != recorded_state.name:
            raise StateError(f"State file {state_path} belongs to deployment {recorded_state.name!r}, not {name!r}.",
                             "Pass the matching --name, or another --state path.")
    if given.get("consumer_role") or given.get("consumer_user"):
        recorded.pop("consumer_role", None)  # choosing one kind of adopted principal replaces the other
        recorded.pop("consumer_user", None)
    merged = {**recorded, **{k: v for k, v in given.items() if v is not None}}
    missing = [flag for field_, flag in RECORDED_FLAGS if field_ in REQUIRED_FLAGS and not merged.get(field_)]
    if missing:
        where = "" if recorded_state is None else f" (the state file {state_path} records none)"
        raise UsageError(f"Missing {', '.join(missing)}{where}.",
                         "A new deployment needs --provider-profile, --cluster, --vpc and --subnets; re-running an "
                         "existing one needs only --name (or --state).")
    merged["name"] = (recorded_state.name if recorded_state is not None else name) or "default"
    merged["rotate_password"] = rotate_password
    merged.setdefault("consumer_profile", None)  # the SDK's default credentials (AWS_PROFILE, environment, ...)
    cfg = Config(**{k: v for k, v in merged.items() if k in Config.__dataclass_fields__})
    changed = [] if recorded_state is None else [
        f"{flag}: {_shown(recorded.get(field_))} -> {_shown(merged.get(field_))}"
        for field_, flag in RECORDED_FLAGS if field_ in given and given[field_] is not None
        and recorded.get(field_) != merged.get(field_)]
    return cfg, changed


def _shown(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(value)
    return "(none)" if value is None else str(value)


@dataclass
class SetupResult:
    plan: Plan
    state: State
    calls_made: list[str]
    problems: list[str]
    seconds: float
    plan_doc: dict = field(default_factory=dict)


def setup(cfg: Config, state_path: Path, ui: Terminal, *, dry_run: bool, password_from_stdin: bool,
          wait_timeout: float = 300.0, password: Callable[[], str] | None = None,
          changed_inputs: tuple[str, ...] | list[str] = ()) -> SetupResult:
    started = time.monotonic()
    cfg.validate()
    existing = state_mod.load(state_path)
    if existing is not None and existing.name != cfg.name:
        raise StateError(f"State file {state_path} belongs to deployment {existing.name!r}, not {cfg.name!r}.",
                         "Pass the matching --name, or another --state path.")
    aws = Sessions.from_profiles(cfg.consumer_profile, cfg.provider_profile, cfg.region)
    password = password or password_source(password_from_stdin, ui, cfg.db_user)
    if dry_run:
        return _setup_locked(cfg, aws, state_path, existing, ui, True, password, wait_timeout, started, changed_inputs)
    with state_mod.locked(state_path):
        existing = state_mod.load(state_path)
        return _setup_locked(cfg, aws, state_path, existing, ui, False, password, wait_timeout, started, changed_inputs)


def _setup_locked(cfg, aws, state_path, existing, ui, dry_run, password, wait_timeout, started,
                  changed_inputs=()) -> SetupResult:
    state = existing or State(name=cfg.name)
    ctx = start_context(cfg, aws, state, password)  # its lookups overlap the inspections (planner.inspect_all)
    plan = plan_setup(ctx)
    problems = failing_checks(plan)[1]
    if changed_inputs and not ui.json:
        ui.note("Changed since the last setup: " + "; ".join(changed_inputs), soft_wrap=True)
    meta = {"name": cfg.name, "region": aws.region, "changed_inputs": list(changed_inputs),
            "accounts": {"consumer": ctx.consumer_account, "provider": ctx.provider_account},
            "state_file": str(state_path), "dry_run": dry_run, "monthly_cost": cost.for_config(cfg.subnet_ids)}
    plan_doc = render.plan_json(plan, meta)
    table = render.plan_table(plan, f"xacct setup plan — deployment {cfg.name!r}, consumer "
                                    f"{ctx.consumer_account} → provider {ctx.provider_account}, {aws.region}")
    ui.show_plan(plan, table, plan_doc, dry_run)
    if not ui.json:
        ui.note(cost.summary(plan_doc["monthly_cost"]), soft_wrap=True)
    if dry_run:
        return SetupResult(plan, state, [], problems, time.monotonic() - started, plan_doc)
    if plan.changes:
        if needs_password(plan):
            password()  # ask (or fail) before confirming, so nothing is half-done for want of it
        if not ui.confirm("Apply this plan?"):
            raise Declined("Declined: nothing was changed.", "Re-run and answer yes, or pass --yes.")
    # What the file held (a value, not the live dicts): a run that changes nothing in AWS still saves when what it
    # records changed (a new value, a cleared error).
    recorded_before = json.dumps(state.to_json(), sort_keys=True)
    record_deployment(ctx)
    started = time.monotonic()  # report the time spent applying, not the time at the prompts
    progress = ui.progress(plan)
    runner = Runner(aws, state, state_path, progress, wait_timeout=wait_timeout)
    if plan.changes or existing is None:
        runner.save()
    if plan.changes and not ui.json:
        ui.note("Applying in dependency order (step numbers follow the recipe; docs/how-it-works.md explains the order).")
    with progress:
        runner.execute(plan)
    state.last_error = failing_checks(plan)[0]
    if plan.changes or existing is None or json.dumps(state.to_json(), sort_keys=True) != recorded_before:
        runner.save()
    return SetupResult(plan, state, runner.calls_made, problems, time.monotonic() - started, plan_doc)


def _sessions_for(state: State, consumer_profile: str | None, provider_profile: str | None, region: str | None) -> Sessions:
    return Sessions.from_profiles(
        consumer_profile if consumer_profile is not None else state.profiles.get("consumer"),
        provider_profile if provider_profile is not None else state.profiles.get("provider"),
        region or state.region,
    )


def load_required(state_path: Path) -> State:
    state = state_mod.load(state_path)
    if state is None:
        raise UsageError(f"No xacct deployment state at {state_path}.",
                         "Pass --name or --state of an existing deployment (run `xacct setup` first).")
    return state


def status(state_path: Path, consumer_profile: str | None = None, provider_profile: str | None = None, *,
           graph: bool = False, region: str | None = None) -> dict:
    """Each step's status; with `graph`, also report["graph"]: the chain as graph.Node roots (not JSON)."""
    state = load_required(state_path)
    if not state.config.get("cluster"):
        raise StateError(f"State file {state_path} records no configuration.", "Run `xacct setup` again to complete it.")
    aws = _sessions_for(state, consumer_profile, provider_profile, region)

    def no_password() -> str:
        raise AssertionError("status never needs the password")

    # The state's own name is authoritative: it is the name the resources were made under.
    cfg = Config.from_json({**state.config, "name": state.name}, consumer_profile=aws.consumer_profile,
                           provider_profile=aws.provider_profile, region=aws.region)
    ctx = start_context(cfg, aws, state, no_password, check_data_api=False, recorded=True)
    plan = plan_setup(ctx)
    report = status_report(plan, state)
    report["state_file"] = str(state_path)
    report["handoff"] = handoff_summary(state)
    report["monthly_cost"] = cost.for_state(state)
    if graph:
        report["graph"] = graph_mod.build(plan, report, vpc=state.config.get("vpc_id"))
    return report


def _discover_for_teardown(state_path: Path, consumer_profile, provider_profile, region, ui: Terminal) -> State | None:
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
        return None
    ui.note(f"No state file at {state_path}: found {len(state.resources)} resource(s) tagged "
                 f"xacct:deployment={name} in consumer {consumer} / provider {provider}.")
    return state


def _removal(row, item, changed: bool, why: str | None = None) -> dict:
    """What became of one recorded row: deleted now, already gone (a lookup by its id found nothing), kept for
    other deployments (a shared endpoint), or only forgotten (an adopted principal left in place, a policy that
    went with its resource)."""
    if item.changes_aws:
        outcome = "deleted" if changed else ("kept for other deployments" if str(why).startswith("kept")
                                             else "already gone")
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
            discovered = state is not None
        if state is None:
            hint = ("" if (consumer_profile or provider_profile) else
                    " To look for the deployment's resources by tag in AWS, pass --consumer-profile and --provider-profile.")
            ui.note(f"Nothing to tear down: no state file at {state_path}.{hint}")
            return TeardownResult(Plan("teardown", []), [], time.monotonic() - started, [])
        if name is not None and name != state.name:
            raise StateError(f"State file {state_path} belongs to deployment {state.name!r}, not {name!r}.",
                             "Pass the matching --name, or another --state path.")
        if key_deletion_days is not None:
            state.config["key_deletion_days"] = key_deletion_days
        state.config["secret_recovery_days"] = secret_recovery_days
        aws = _sessions_for(state, consumer_profile, provider_profile, region)
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
        if screened.refused:
            raise screened.refusal(state_path)
        return TeardownResult(plan, calls, time.monotonic() - started, removed, plan_doc, notes)


def verify(state_path: Path, ui: Terminal, *, sql: str, as_profile: str | None, database: str | None,
           consumer_profile: str | None = None, provider_profile: str | None = None, wait_timeout: float = 120.0,
           region: str | None = None):
    """Run a statement through the deployment's path, as its consumer principal (read-only for xacct's state).

    The deployment's status comes first: a statement that runs while a step is drifted or missing proves only
    what the sandbox (or a too-wide policy) lets through, so verify refuses until `status` is all done."""
    from xacct_dataapi import verify as verify_mod
    from xacct_dataapi.durations import wait_line
    from xacct_dataapi.waiting import Timing

    report = status(state_path, consumer_profile, provider_profile, region=region)
    if not report["all_done"]:
        bad = [f"{s['number']} {s['title']} ({s['status']})" for s in report["steps"] if s["status"] != "done"]
        raise AwsError(f"Not verifying: `xacct status` reports steps that are not done: {'; '.join(bad)}.",
                       f"Run `xacct status --name {report['name']}` for the details and `xacct setup` to repair.")
    state = load_required(state_path)
    aws = _sessions_for(state, consumer_profile, provider_profile, region)
    check_accounts(aws, state)
    timing = Timing(on_wait=lambda what, elapsed: ui.note(f"  still waiting for {wait_line(what, elapsed, wait_timeout)}"))
    # verify's temporary access key is recorded (its id, never the secret) before use, under the state lock.
    with state_mod.locked(state_path):
        state = load_required(state_path)
        return verify_mod.verify(state, aws, sql=sql, as_profile=as_profile, database=database,
                                 wait_timeout=wait_timeout, timing=timing, save=lambda: state_mod.save(state, state_path))


@dataclass
class ConnectResult:
    text: str
    written: Path | None = None
    changed: bool = False


def connect(state_path: Path, *, fmt: str, source_profile: str | None, credential_source: str | None,
            profile_name: str | None, write: bool) -> ConnectResult:
    """The hand-off, from the state file alone (no AWS call); with `write`, the profile merged into the AWS config."""
    from xacct_dataapi import connect as connect_mod

    if fmt not in connect_mod.FORMATS:
        raise UsageError(f"--format {fmt!r} is not supported.", f"Use one of: {', '.join(connect_mod.FORMATS)}.")
    handoff = connect_mod.HandOff.from_state(load_required(state_path))
    source = connect_mod.Source.choose(source_profile, credential_source)
    name = connect_mod.default_profile_name(handoff, profile_name)
    result = ConnectResult(connect_mod.render(handoff, fmt, source, name))
    if write:
        if not source.given:
            raise UsageError("--write needs the profile's source of credentials.",
                             "Add --source-profile P (a profile of the consumer principal) or --credential-source "
                             f"{'|'.join(connect_mod.CREDENTIAL_SOURCES)}.")
        block = connect_mod.profile_block(handoff, source, name)
        result.written, result.changed = connect_mod.write_profile(block, name, handoff.name)
    return result


def force_unlock(path: Path | S3Location, lock_id: str, ui: Terminal) -> dict:
    """Remove the team state lock `lock_id` of the deployment at `path`, after asking."""
    if not isinstance(path, S3Location):
        raise UsageError(f"{path} is a local state file: its lock is released by the OS when its holder dies.",
                         "force-unlock is for team state in S3 (--state s3://BUCKET/PREFIX/).")
    if not ui.confirm(f"Remove lock {lock_id} on {path}? Only do so if its holder is gone for good."):
        raise Declined("Declined: the lock was left in place.", "Re-run and answer yes, or pass --yes.")
    return state_s3.force_unlock(path, lock_id)


def list_deployments(base: Path | None = None, where: Path | S3Location | None = None) -> list[dict]:
    """Every deployment with a state file in .xacct/ (or under the team state's S3 prefix, `where` or XACCT_STATE),
    summarised from the state alone (no call to the deployments' accounts)."""
    if where is not None and not isinstance(where, S3Location):
        raise UsageError(f"--state {where}: list takes a team state location (s3://BUCKET/PREFIX/).",
                         "Run it without --state to list the state files in .xacct/ here.")
    if where is None and os.environ.get("XACCT_STATE", "").startswith(state_s3.SCHEME):
        where = S3Location.parse(os.environ["XACCT_STATE"])
    if where is not None:
        paths = state_s3.states_under(where.folder)
    else:
        folder = state_dir(base)
        paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    found = []
    for path in paths:
        try:
            state = state_mod.load(path)
        except StateError as exc:
            found.append({"name": path.stem, "state_file": str(path), "summary": f"unreadable: {exc.message}"})
            continue
        if state is None:
            continue
        c, err = state.config, state.last_error or {}
        if err.get("message") == "interrupted":
            summary = f"{err.get('during', 'setup')} interrupted"
        elif err:
            summary = f"step {err.get('step')} failed"
        else:
            summary = "complete" if state.resources else "empty"
        found.append({"name": state.name, "state_file": str(path), "region": state.region,
                      "consumer": state.accounts.get("consumer"), "provider": state.accounts.get("provider"),
                      "cluster": c.get("cluster"), "vpc": c.get("vpc_id"), "resources": len(state.resources),
                      "summary": summary, "monthly_cost": cost.for_state(state)})
    return found
