"""`xacct setup`: the configuration for this run, the plan, the confirmation and the executor; the state records
who we are before the first change."""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from xacct_dataapi import cost, render
from xacct_dataapi import state as state_mod
from xacct_dataapi.aws import Sessions
from xacct_dataapi.config import Config
from xacct_dataapi.context import start_context
from xacct_dataapi.layout import Prose
from xacct_dataapi.errors import Declined, StateError, UsageError
from xacct_dataapi.models import Action, Plan, Sensitive
from xacct_dataapi.planner import plan_setup
from xacct_dataapi.runner import Runner
from xacct_dataapi.state import State


if TYPE_CHECKING:  # the use cases only call a Terminal's methods; prompting itself stays at the edge
    from xacct_dataapi.terminal import Terminal


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


def generated_password(aws: Sessions) -> Callable[[], str]:
    """With --create-db-user: the secret's first version gets a password from GetRandomPassword, asked once; the
    database user step replaces it by the rotation protocol before anyone uses it."""
    from xacct_dataapi.db_admin import random_password
    from xacct_dataapi.models import Account

    cache: list[str] = []

    def get() -> str:
        if not cache:
            cache.append(random_password(aws.client(Account.PROVIDER, "secretsmanager")))
        return cache[0]

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
    """The last_error a failing check leaves in the state (None if every check passes), and every problem. What
    widens a resource of ours that xacct did not make (StepPlan.foreign) fails the run too: setup keeps it."""
    failing = [s for s in plan.steps if s.action is Action.CHECK or s.foreign]
    problems = [p for s in failing for p in s.problems + s.foreign]
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
    ("create_db_user", "--create-db-user"), ("db_access", "--db-access"), ("db_schema", "--db-schema"),
    ("db_grants", "--db-grant"), ("admin_secret", "--admin-secret"),
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
    if not merged.get("consumer_profile"):
        # No flag and nothing recorded: the SDK's default credentials. If those come from a named profile, record its
        # name, so that a re-run uses the same account whatever AWS_PROFILE says then (`connect --format env` exports
        # AWS_PROFILE=xacct-NAME, a profile in the provider account); an explicit flag still wins.
        merged["consumer_profile"] = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or None
    cfg = Config(**{k: v for k, v in merged.items() if k in Config.__dataclass_fields__})
    changed = [] if recorded_state is None else [
        f"{flag}: {_shown(recorded.get(field_))} -> {_shown(merged.get(field_))}"
        for field_, flag in RECORDED_FLAGS if field_ in given and given[field_] is not None
        and recorded.get(field_) != merged.get(field_)]
    return cfg, changed


def _shown(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(value) or "(none)"
    return "(none)" if value is None else str(value)


@dataclass
class SetupResult:
    plan: Plan
    state: State
    calls_made: list[str]
    problems: list[str]
    seconds: float
    plan_doc: dict = field(default_factory=dict)
    resumed_after_interrupt: bool = False  # the state said the last run was stopped by Ctrl-C or SIGTERM


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
    if password is None and cfg.create_db_user:  # nobody types it: Secrets Manager makes it (steps/db_user.py)
        password = generated_password(aws)
    password = password or password_source(password_from_stdin, ui, cfg.db_user)
    if dry_run:
        return _setup_locked(cfg, aws, state_path, existing, ui, True, password, wait_timeout, started, changed_inputs)
    with state_mod.locked(state_path):
        existing = state_mod.load(state_path)
        return _setup_locked(cfg, aws, state_path, existing, ui, False, password, wait_timeout, started, changed_inputs)


def _setup_locked(cfg, aws, state_path, existing, ui, dry_run, password, wait_timeout, started,
                  changed_inputs=()) -> SetupResult:
    state = existing or State(name=cfg.name)
    resumed = (state.last_error or {}).get("message") == "interrupted"
    ctx = start_context(cfg, aws, state, password)  # its lookups overlap the inspections (planner.inspect_all)
    plan = plan_setup(ctx)
    problems = failing_checks(plan)[1]
    meta = {"name": cfg.name, "region": aws.region, "changed_inputs": list(changed_inputs),
            "accounts": {"consumer": ctx.consumer_account, "provider": ctx.provider_account},
            "state_file": str(state_path), "dry_run": dry_run, "monthly_cost": cost.for_config(cfg.subnet_ids)}
    plan_doc = render.plan_json(plan, meta)
    table = render.plan_table(plan, f"xacct setup plan — deployment {cfg.name!r}, consumer "
                                    f"{ctx.consumer_account} → provider {ctx.provider_account}, {aws.region}",
                              changed_inputs)
    ui.show_plan(plan, table, plan_doc, dry_run)
    if not ui.json:
        ui.note(Prose(cost.summary(plan_doc["monthly_cost"])))
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
    runner = Runner(aws, state, state_path, progress, wait_timeout=wait_timeout, secrets=ctx.secret_inputs())
    if plan.changes or existing is None:
        runner.save()
    if plan.changes and not ui.json:
        ui.note("Applying in dependency order (step numbers follow the recipe; docs/how-it-works.md explains the order).")
    with progress:
        runner.execute(plan)
    state.last_error = failing_checks(plan)[0]
    if plan.changes or existing is None or json.dumps(state.to_json(), sort_keys=True) != recorded_before:
        runner.save()
    return SetupResult(plan, state, runner.calls_made, problems, time.monotonic() - started, plan_doc, resumed)
