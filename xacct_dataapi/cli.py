"""The `xacct` command line: parse, call app.py, render. No boto3 here."""
from __future__ import annotations

import atexit
import copy
import functools
import importlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, NoReturn, Optional

import typer

from xacct_dataapi import GC_THRESHOLDS, __version__, sandbox  # the sandbox package is light: its contents load on first use

if TYPE_CHECKING:
    from xacct_dataapi import app as usecases, render
    from xacct_dataapi.models import Action
    from xacct_dataapi.terminal import Terminal


class _OnFirstUse:
    """A module (or one of its attributes) imported when a command first uses it: `xacct --help`, `--version` and
    usage errors never import boto3, rich or the use cases."""

    def __init__(self, module: str, attribute: str | None = None) -> None:
        self._module, self._attribute = module, attribute

    def __getattr__(self, name: str) -> Any:
        target = importlib.import_module(self._module)
        return getattr(getattr(target, self._attribute) if self._attribute else target, name)


if not TYPE_CHECKING:
    usecases = _OnFirstUse("xacct_dataapi.app")
    render = _OnFirstUse("xacct_dataapi.render")
    Action = _OnFirstUse("xacct_dataapi.models", "Action")
    Terminal = _OnFirstUse("xacct_dataapi.terminal", "Terminal")


def handles_errors(command: Callable[..., Any]) -> Callable[..., None]:
    """xacct_dataapi.terminal.handles_errors, imported when the command runs."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        from xacct_dataapi.terminal import handles_errors as real

        return real(command)(*args, **kwargs)

    return run


cli = typer.Typer(
    name="xacct",
    help="Give an application in one AWS account SQL access to an Aurora cluster in another, through the RDS Data API "
    "over PrivateLink: set up, check, and tear down exactly.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals could hold credentials
    # --install-completion / --show-completion (bash, zsh, fish, PowerShell): commands, options, --output values.
    add_completion=True,
    rich_markup_mode=None,  # plain click help and usage errors: rich's help formatting costs more than all of click
)

from xacct_dataapi import cli_db  # noqa: E402  (the database user's options and `rotate`: issue 28)
from xacct_dataapi.cli_db import AdminSecret, CreateDbUser, DbAccess, DbGrant, DbSchema, db_user_given  # noqa: E402

Output = Annotated[str, typer.Option("--output", "-o", metavar="text|json", help="Output format: text or json.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
StateOpt = Annotated[Optional[Path], typer.Option("--state", help="State file (default .xacct/<name>.json).")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Deployment name (letters, digits, '-'; default 'default').")]
ConsumerOverride = Annotated[Optional[str], typer.Option("--consumer-profile", help="Override the recorded profile.")]
ProviderOverride = Annotated[Optional[str], typer.Option("--provider-profile", help="Override the recorded profile.")]
WaitTimeout = Annotated[float, typer.Option("--wait-timeout", min=1.0, help="Seconds to wait for AWS to settle (IAM propagation, "
                                                                   "endpoint availability, deletions).")]


def version_callback(value: bool):
    if value:
        typer.echo(f"xacct {__version__}")
        raise typer.Exit()


@cli.callback()
def main_callback(
    # A plain bool (not Optional[bool]): typer then skips its pydantic coercion, so usage errors never import pydantic.
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version and exit.")] = False,
):
    """xacct — cross-account RDS Data API over PrivateLink."""


@cli.command()
@handles_errors
def setup(
    provider_profile: Annotated[Optional[str], typer.Option("--provider-profile", help="Profile of the account that owns the cluster.")] = None,
    cluster: Annotated[Optional[str], typer.Option("--cluster", help="Aurora cluster identifier or ARN (provider account).")] = None,
    vpc: Annotated[Optional[str], typer.Option("--vpc", help="Consumer VPC id for the rds-data endpoint.")] = None,
    subnets: Annotated[Optional[str], typer.Option("--subnets", help="Consumer subnet ids, comma-separated, one per AZ.")] = None,
    consumer_profile: Annotated[Optional[str], typer.Option("--consumer-profile", help=(
        "Profile of the application's account (default: the recorded one, else AWS_PROFILE, whose name is then "
        "recorded: a later AWS_PROFILE does not change the deployment's account)."))] = None,
    region: Annotated[Optional[str], typer.Option("--region", help="Region (default: the provider profile's).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Deployment name (letters, digits, '-'; default 'default').")] = None,
    state: StateOpt = None,
    db_user: Annotated[Optional[str], typer.Option("--db-user", help="Database user the Data API connects as (default app_user).")] = None,
    db_name: Annotated[Optional[str], typer.Option("--db-name", help="Database name (default: the cluster's).")] = None,
    consumer_role: Annotated[Optional[str], typer.Option("--consumer-role", help="Existing consumer role (name or ARN) to grant.")] = None,
    consumer_user: Annotated[Optional[str], typer.Option("--consumer-user", help="Existing consumer IAM user to grant.")] = None,
    enable_data_api: Annotated[Optional[bool], typer.Option("--enable-data-api", help="Turn the cluster's Data API on if it is off.", show_default=False)] = None,
    rotate_password: Annotated[bool, typer.Option("--rotate-password", help="Write the secret again with a new "
                                                                           "password (after changing it in the database).")] = False,
    db_password_stdin: Annotated[bool, typer.Option("--db-password-stdin", help="Read the DB password from stdin "
                                                                               "(or set XACCT_DB_PASSWORD).")] = False,
    key_deletion_days: Annotated[Optional[int], typer.Option("--key-deletion-days", help="KMS deletion window used at teardown (7-30; default 7).")] = None,
    endpoint_policy: Annotated[Optional[str], typer.Option("--endpoint-policy", metavar="restricted|full", help="restricted (default): the endpoint carries only the access "
                                                                          "role's calls to this cluster; full: AWS's default "
                                                                          "(other Data API users in the VPC keep working).")] = None,
    secret_reader: Annotated[Optional[list[str]], typer.Option("--secret-reader", metavar="ARN", help=(
        "Role or user ARN exempt from the secret policy's Deny (e.g. a rotation Lambda's role, an admin role); "
        "repeatable. Without it only the access role can read the secret."))] = None,
    require_private_path: Annotated[Optional[bool], typer.Option("--require-private-path", show_default=False, help=(
        "The access role may run statements only through this deployment's rds-data endpoint (aws:SourceVpce). "
        "It rests on IAM's general rule that a request through a VPC endpoint carries aws:SourceVpce (no AWS page "
        "says so for rds-data in particular): check it once on your account (docs/how-it-works.md, Private path).")
    )] = None,
    client_cidr: Annotated[Optional[list[str]], typer.Option("--client-cidr", metavar="CIDR", help=(
        "A network the application calls from besides the VPC's own CIDR blocks (a peered VPC, on premises); "
        "repeatable. The endpoint's security group and the NACL check admit it."))] = None,
    # --- the deployment's own database user (issue 28; options in cli_db.py) ---
    create_db_user: CreateDbUser = None,
    db_access: DbAccess = None,
    db_schema: DbSchema = None,
    db_grant: DbGrant = None,
    admin_secret: AdminSecret = None,
    # --- end of the database user's options ---
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    output: Output = "text",
    wait_timeout: WaitTimeout = 300.0,
    debug: Debug = False,
):
    """Create (or repair) everything the cross-account Data API path needs. Safe to re-run.

    Re-running an existing deployment needs only --name (or --state): every other input comes from its state file,
    and any flag given replaces the recorded value (the plan lists what changed)."""
    ui = Terminal.open(output, yes=yes)
    path = usecases.resolve_state_path(state, name)
    given = {"provider_profile": provider_profile, "consumer_profile": consumer_profile, "region": region,
             "cluster": cluster, "vpc_id": vpc, "db_user": db_user, "db_name": db_name,
             "subnet_ids": None if subnets is None else tuple(s.strip() for s in subnets.split(",") if s.strip()),
             "consumer_role": consumer_role, "consumer_user": consumer_user,
             "enable_data_api": enable_data_api or None, "key_deletion_days": key_deletion_days,
             "endpoint_policy": endpoint_policy, "secret_readers": tuple(secret_reader) if secret_reader else None,
             "require_private_path": require_private_path or None,
             "client_cidrs": tuple(client_cidr) if client_cidr else None,
             **db_user_given(create_db_user, db_access, db_schema, db_grant, admin_secret)}
    cfg, changed = usecases.setup_config(path, name, given, rotate_password)
    cfg.validate()
    result = usecases.setup(cfg, path, ui, dry_run=dry_run, password_from_stdin=db_password_stdin,
                            wait_timeout=wait_timeout, changed_inputs=changed)
    if dry_run:
        if not ui.json:
            ui.note("Dry run: nothing was changed and no state was written.")
        return
    _report_setup(ui, result, path)
    if result.problems:
        return 1


def _report_setup(ui: Terminal, result: usecases.SetupResult, path: Path) -> None:
    v = result.state.values
    if ui.json:
        ui.print_json({"plan": result.plan_doc, "result": {
            "changed": bool(result.calls_made), "calls_made": result.calls_made, "state_file": str(path),
            "seconds": round(result.seconds, 2), "problems": result.problems,
            "access_role_arn": v.get("access_role_arn"), "external_id": v.get("external_id"),
            "cluster_arn": v.get("cluster_arn"), "secret_arn": v.get("secret_arn"), "database": v.get("database"),
            "endpoint_id": v.get("endpoint_id")}})
    else:
        if not result.calls_made:
            ui.note("No changes: every step is already in place (see the reasons above).")
        else:
            ui.note(f"Applied {len(result.calls_made)} change(s) in {result.seconds:.1f}s; state in {path}.")
            for step in sorted(result.plan.steps, key=lambda s: s.number):
                if step.action is Action.REPAIR and not all(c.bookkeeping for c in step.calls):
                    ui.note(f"Repaired step {step.number} ({step.title}): {step.reason}.")
        for step in result.plan.steps:
            if step.action is Action.CHECK:
                for problem in step.problems:
                    ui.note(f"Step {step.number} ({step.title}) failed: {problem}")
        if not result.problems:
            how = (f"The application assumes {v.get('access_role_arn')} (ExternalId {v.get('external_id')}) and calls "
                   f"rds-data with resourceArn={v.get('cluster_arn')} secretArn={v.get('secret_arn')} "
                   f"database={v.get('database')}. Everything it needs: `xacct connect --name {result.state.name}`.")
            ui.note(how, soft_wrap=True)


@cli.command()
@handles_errors
def status(
    name: NameOpt = None,
    state: StateOpt = None,
    consumer_profile: ConsumerOverride = None,
    provider_profile: ProviderOverride = None,
    region: Annotated[Optional[str], typer.Option("--region", help="Override the recorded region.")] = None,
    graph: Annotated[bool, typer.Option("--graph", help="Draw the chain: both accounts, every link, with ids and "
                                                        "states (a broken link in red, with the reason).")] = False,
    output: Output = "text",
    debug: Debug = False,
):
    """Show each step's status (done, pending, drifted, missing, failed). Read-only. Exit 0 only if all are done."""
    ui = Terminal.open(output)
    path = usecases.resolve_state_path(state, name)
    report = usecases.status(path, consumer_profile, provider_profile, graph=graph and not ui.json, region=region)
    if ui.json:
        ui.print_json(report)
    elif graph:
        ui.print(render.status_graph(report))
    else:
        ui.print(render.status_table(report))
    if not report["all_done"]:
        return 1


@cli.command("list")
@handles_errors
def list_(state: Annotated[Optional[Path], typer.Option("--state", help="Team state: s3://BUCKET/PREFIX/ (default: "
                                                        "XACCT_STATE, else .xacct/ here).")] = None,
          output: Output = "text", debug: Debug = False):
    """List the deployments with a state file in .xacct/ or under a team state prefix (from the state alone)."""
    ui = Terminal.open(output)
    found = usecases.list_deployments(where=state)
    if ui.json:
        ui.print_json(found)
    elif not found:
        ui.note("No deployments: no state files in .xacct/ here.")
    else:
        ui.print(render.deployments_table(found))


@cli.command()
@handles_errors
def teardown(
    name: NameOpt = None,
    state: StateOpt = None,
    consumer_profile: ConsumerOverride = None,
    provider_profile: ProviderOverride = None,
    region: Annotated[Optional[str], typer.Option("--region", help="Override the recorded region.")] = None,
    key_deletion_days: Annotated[Optional[int], typer.Option("--key-deletion-days", help="KMS key deletion window, 7-30 (default: the value given to setup, else 7).")] = None,
    secret_recovery_days: Annotated[Optional[int], typer.Option("--secret-recovery-days",
                                                                help="Keep a 7-30 day recovery window for the secret "
                                                                     "(default: delete at once).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the teardown plan; change nothing.")] = False,
    output: Output = "text",
    wait_timeout: WaitTimeout = 300.0,
    debug: Debug = False,
):
    """Delete, in reverse order, exactly what xacct created. Adopted principals stay; only xacct's policy goes."""
    ui = Terminal.open(output, yes=yes)
    path = usecases.resolve_state_path(state, name)
    result = usecases.teardown(path, ui, name=name, consumer_profile=consumer_profile, provider_profile=provider_profile,
                               region=region, key_deletion_days=key_deletion_days,
                               secret_recovery_days=secret_recovery_days, wait_timeout=wait_timeout, dry_run=dry_run)
    if result.dry_run:
        return
    if ui.json:
        ui.print_json({"plan": result.plan_doc, "result": {
            "removed": result.removed, "calls_made": result.calls_made, "seconds": round(result.seconds, 2),
            "notes": result.notes}})
    elif result.plan.steps:
        ui.note(f"Teardown finished in {result.seconds:.1f}s: {usecases.removal_summary(result.removed)}.")
        for note in result.notes:
            ui.note(note)


@cli.command("force-unlock")
@handles_errors
def force_unlock(
    lock_id: Annotated[str, typer.Argument(help="The lock id that the refusal printed.", metavar="LOCK_ID")],
    name: NameOpt = None,
    state: StateOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Unlock without asking.")] = False,
    output: Output = "text",
    debug: Debug = False,
):
    """Remove a team state lock whose holder is gone for good (its machine died). Only the lock named is removed."""
    ui = Terminal.open(output, yes=yes)
    path = usecases.resolve_state_path(state, name)
    held = usecases.force_unlock(path, lock_id, ui)
    ui.note(f"Unlocked {path}: the lock of pid {held.get('pid')} on host {held.get('host')} "
            f"(since {held.get('since')}) is gone.")


@cli.command()
@handles_errors
def verify(
    name: NameOpt = None,
    state: StateOpt = None,
    sql: Annotated[str, typer.Option("--sql", help="Statement to run through the Data API.")] = "SELECT current_user",
    database: Annotated[Optional[str], typer.Option("--database", help="Database for the statement (default: the "
                                                                       "secret's dbname, recorded by setup).")] = None,
    as_profile: Annotated[Optional[str], typer.Option("--as-profile", help="Profile whose identity is the consumer "
                                                                           "principal (default: a temporary key for the "
                                                                           "user xacct created, or the consumer profile "
                                                                           "assuming the adopted --consumer-role).")] = None,
    consumer_profile: ConsumerOverride = None,
    provider_profile: ProviderOverride = None,
    region: Annotated[Optional[str], typer.Option("--region", help="Override the recorded region.")] = None,
    output: Output = "text",
    wait_timeout: Annotated[float, typer.Option("--wait-timeout", min=1.0, max=120.0, help="Seconds to retry while IAM "
                                                "propagates (at most 120).")] = 120.0,
    debug: Debug = False,
):
    """Prove the path as the application would: refuse unless `status` is all done, then act as the consumer
    principal, assume the access role and run a statement in the recorded database."""
    ui = Terminal.open(output)
    result = usecases.verify(usecases.resolve_state_path(state, name), ui, sql=sql, as_profile=as_profile,
                             database=database, consumer_profile=consumer_profile, provider_profile=provider_profile,
                             wait_timeout=wait_timeout, region=region)
    if ui.json:
        ui.print_json(result.to_json())
        return
    ui.print(f"OK: {result.principal} assumed {result.assumed} and ran {sql!r} in database {result.database!r} "
             f"in {result.seconds:.1f}s: {len(result.rows)} row(s).", soft_wrap=True)
    if result.rows:
        ui.print(render.rows_table(result.columns, result.rows))


@cli.command()
@handles_errors
def connect(
    name: NameOpt = None,
    state: StateOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="text|profile|env|python|sqlalchemy|json",
                                        help="What to print for the application team.")] = "text",
    source_profile: Annotated[Optional[str], typer.Option("--source-profile", help="Profile of the consumer principal "
                                                                                   "the role profile starts from.")] = None,
    credential_source: Annotated[Optional[str], typer.Option("--credential-source", metavar="Ec2InstanceMetadata|EcsContainer|Environment",
                                                             help="Where the consumer principal's credentials come from "
                                                                  "(instead of --source-profile).")] = None,
    profile_name: Annotated[Optional[str], typer.Option("--profile-name", help="Profile name (default xacct-<name>).")] = None,
    write: Annotated[bool, typer.Option("--write", help="Merge the profile into the AWS config file (AWS_CONFIG_FILE or "
                                                        "~/.aws/config); replaces only its own section, keeps a backup.")] = False,
    debug: Debug = False,
):
    """Hand the access to the application: role, external id, cluster, secret, database, who must call (no secrets)."""
    ui = Terminal.open()
    result = usecases.connect(usecases.resolve_state_path(state, name), fmt=format, source_profile=source_profile,
                              credential_source=credential_source, profile_name=profile_name, write=write)
    ui.out.file.write(result.text)  # as is: a config block or a snippet must not be re-wrapped or styled
    if result.written:
        ui.note(f"{'Wrote' if result.changed else 'Already up to date:'} the profile in {result.written}"
                f"{' (previous file kept as ' + result.written.name + '.xacct-backup)' if result.changed else ''}.")


@cli.command()
@handles_errors
def export(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the templates and README.md to.")],
    name: NameOpt = None,
    state: StateOpt = None,
    fmt: Annotated[str, typer.Option("--format", metavar="cloudformation|json",
                                        help="cloudformation: YAML templates; json: the same as JSON.")] = "cloudformation",
    consumers_from: Annotated[Optional[str], typer.Option(
        "--consumers-from", metavar="SPEC",
        help="Consumer accounts the provider trusts: accounts:ID,ID or org:o-ID (default: the deployment's).")] = None,
    consumer_profile: ConsumerOverride = None,
    provider_profile: ProviderOverride = None,
    debug: Debug = False,
):
    """Write the deployment as CloudFormation: provider and consumer templates (StackSet-ready). Read-only."""
    from xacct_dataapi import export as export_mod

    path = usecases.resolve_state_path(state, name)
    for written in export_mod.export(path, out, fmt=fmt, consumers_from=consumers_from,
                                     consumer_profile=consumer_profile, provider_profile=provider_profile):
        typer.echo(str(written))


@cli.command()
@handles_errors
def doctor(
    name: NameOpt = None,
    state: StateOpt = None,
    consumer_profile: Annotated[Optional[str], typer.Option("--consumer-profile", help="Consumer profile (overrides the recorded one).")] = None,
    provider_profile: Annotated[Optional[str], typer.Option("--provider-profile", help="Provider profile (overrides the recorded one).")] = None,
    region: Annotated[Optional[str], typer.Option("--region", help="Region (default: recorded, else the provider profile's).")] = None,
    cluster: Annotated[Optional[str], typer.Option("--cluster", help="Without a state file: the cluster id or ARN.")] = None,
    vpc: Annotated[Optional[str], typer.Option("--vpc", help="Without a state file: the consumer VPC id.")] = None,
    role_arn: Annotated[Optional[str], typer.Option("--role-arn", help="Without a state file: the provider role the application assumes.")] = None,
    secret_arn: Annotated[Optional[str], typer.Option("--secret-arn", help="Without a state file: the DB credentials secret.")] = None,
    external_id: Annotated[Optional[str], typer.Option("--external-id", help="Without a state file: the role's external id.")] = None,
    live: Annotated[bool, typer.Option("--live", help="Run the live statement even if a check failed (may mint verify's temporary key).")] = False,
    as_profile: Annotated[Optional[str], typer.Option("--as-profile", help="Profile acting as the consumer principal for the live statement.")] = None,
    output: Output = "text",
    debug: Debug = False,
):
    """Check every link of the chain and name the broken one. Read-only. Exit 0 if nothing fails, 1 if a check fails."""
    from xacct_dataapi import doctor as doctor_mod
    from xacct_dataapi.doctor.render import table

    ui = Terminal.open(output)
    path = None if (cluster or vpc) else usecases.resolve_state_path(state, name)
    report = doctor_mod.run(path, consumer_profile=consumer_profile, provider_profile=provider_profile,
                            region=region, cluster=cluster, vpc=vpc, role_arn=role_arn, secret_arn=secret_arn,
                            external_id=external_id, live=live, as_profile=as_profile)
    if ui.json:
        ui.print_json(report.to_json())
    else:
        ui.print(table(report))
    return report.exit_code or None


@cli.command()
@handles_errors
def demo(
    engine: Annotated[str, typer.Option("--engine", metavar="aurora-postgresql|aurora-mysql", help="Engine of the sandbox's Aurora cluster.")] = "aurora-postgresql",
    output: Output = "text",
    debug: Debug = False,
):
    """Run the whole job against a throw-away local sandbox (no AWS account needed)."""
    from xacct_dataapi.demo import run_demo

    ui = Terminal.open(output, yes=True)
    started = time.perf_counter()
    with sandbox.as_xacct_errors():
        result = run_demo(ui, engine=engine)
    total = time.perf_counter() - started
    summary = {
        "ok": result.ok,
        "seconds": round(total, 2),
        "phases": [{"name": p.name, "ok": p.ok, "seconds": round(p.seconds, 2), "detail": p.detail} for p in result.phases],
        "created": result.created,
        "leftovers": result.leftovers,
    }
    if ui.json:
        ui.print_json(summary)
    else:
        ui.print(render.demo_summary(summary))
    if not result.ok:
        return 1


@cli.command()
@handles_errors
def permissions(
    side: Annotated[str, typer.Option("--side", metavar="provider|consumer", help="Which profile the policy is for.")],
    for_: Annotated[str, typer.Option("--for", metavar="setup|status|teardown|verify|doctor|all",
                                      help="Only what this command calls (default: all).")] = "all",
    name: Annotated[str, typer.Option("--name", help="Confine to one deployment (default: every xacct deployment).")] = "*",
    region: Annotated[Optional[str], typer.Option("--region", help="Region (also sets the partition).")] = None,
    provider_account: Annotated[str, typer.Option("--provider-account", help="Provider account id.")] = "PROVIDER",
    consumer_account: Annotated[str, typer.Option("--consumer-account", help="Consumer account id.")] = "CONSUMER",
    cluster: Annotated[str, typer.Option("--cluster", help="Cluster identifier.")] = "CLUSTER_ID",
    vpc: Annotated[str, typer.Option("--vpc", help="Consumer VPC id.")] = "VPC_ID",
    consumer_role: Annotated[Optional[str], typer.Option("--consumer-role", help="Adopted consumer role name.")] = None,
    consumer_user: Annotated[Optional[str], typer.Option("--consumer-user", help="Adopted consumer user name.")] = None,
    create_db_user: CreateDbUser = None,  # issue 28: the rotation protocol and SQL as the admin
    admin_secret: AdminSecret = None,
    output: Output = "text",
    debug: Debug = False,
):
    """Print the minimal IAM policy your own profile needs, generated from the calls xacct makes (docs/permissions.md)."""
    from xacct_dataapi import permissions as perms

    ui = Terminal.open(output)
    given = {"region": region, "provider": provider_account, "consumer": consumer_account, "cluster": cluster,
             "vpc": vpc, "consumer_role": consumer_role, "consumer_user": consumer_user,
             "create_db_user": create_db_user, "admin_secret": admin_secret}
    placeholders = {"provider": "PROVIDER", "consumer": "CONSUMER", "cluster": "CLUSTER_ID", "vpc": "VPC_ID"}
    # --name of a recorded deployment fills every placeholder from its state; a flag given still wins.
    recorded = usecases.recorded_scope(name) if name != "*" else {}
    scope = {k: v if v not in (None, placeholders.get(k)) else recorded.get(k, v) for k, v in given.items()}
    doc = perms.policy_for_cli(side, for_, name=name, **scope)
    ui.print_json(doc)  # the policy is JSON either way; text adds a note on stderr
    if not ui.json:
        ui.note(perms.cli_note(doc))


sandbox_app = typer.Typer(help="A local two-account AWS sandbox (moto) to try xacct without an AWS account.",
                          no_args_is_help=True, rich_markup_mode=None)
cli.add_typer(sandbox_app, name="sandbox")

SandboxDir = Annotated[Path, typer.Option("--dir", help="Where the sandbox writes its AWS config and credentials.")]


@sandbox_app.command("up")
@handles_errors
def sandbox_up(
    dir: SandboxDir = sandbox.DEFAULT_DIR,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (default: a free one).")] = 0,
    engine: Annotated[str, typer.Option("--engine", metavar="aurora-postgresql|aurora-mysql", help="Engine of the sandbox's Aurora cluster.")] = "aurora-postgresql",
    engine_mode: Annotated[str, typer.Option("--engine-mode", metavar="provisioned|serverless", help="provisioned: Serverless v2 (Data API switched by EnableHttpEndpoint); serverless: Serverless v1 (ModifyDBCluster).")] = "provisioned",
    realistic: Annotated[bool, typer.Option("--realistic", help="Behave like AWS in time: latency per request, a new endpoint pending, new IAM principals not yet valid, ENIs lingering, a deleted secret's name blocked.")] = False,
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="With --realistic: latency added to every request.")] = 60.0,
    time_scale: Annotated[float, typer.Option("--time-scale", help="With --realistic: multiply the settling times (endpoint pending 20 s, new principal 5 s, ENIs 10 s, secret name 5 s, Data API switch 3 s).")] = 1.0,
    debug: Debug = False,
):
    """Start the sandbox and serve until Ctrl-C or `xacct sandbox down`."""
    from xacct_dataapi.sandbox.realism import Realism

    realism = Realism.realistic(latency_ms, time_scale) if realistic else None
    sandbox.serve(dir, port, engine, Terminal.open(), engine_mode=engine_mode, realism=realism)


@sandbox_app.command("down")
@handles_errors
def sandbox_down(dir: SandboxDir = sandbox.DEFAULT_DIR, debug: Debug = False):
    """Stop a sandbox started with `xacct sandbox up`."""
    Terminal.open().note(sandbox.stop_recorded(dir))


def only_the_named_command(app: typer.Typer, args: list[str]) -> typer.Typer:
    """`app` with only the command (or command group) that args[0] names, if it names one exactly.

    Why: typer builds a click command, with all its options, for every registered command before it parses the line
    (~18 ms for xacct's, ~5 ms for one), and a line runs one. Anything else (no arguments, an option first, an unknown
    or misspelt name, shell completion, which reads its words from the environment) gets the whole app, whose help
    and "No such command" name them all. Each command's own help, usage line and errors are the same either way."""
    if not args:
        return app
    from typer.main import get_command_name  # the name typer gives a command registered without one

    commands = [c for c in app.registered_commands
                if (c.name or get_command_name(c.callback.__name__)) == args[0]]  # type: ignore[union-attr]
    groups = [g for g in app.registered_groups if g.name == args[0]]
    if len(commands) + len(groups) != 1:
        return app
    only = copy.copy(app)
    only.registered_commands, only.registered_groups = commands, groups
    return only


def run(args: list[str] | None = None) -> int:
    """Parse and run one command line (default: sys.argv); its exit code: 0, 1 AWS-side, 2 usage, 130 interrupted."""
    from xacct_dataapi.option_values import use_plain_coercion

    use_plain_coercion()
    if args is None:
        args = sys.argv[1:]
    try:
        only_the_named_command(cli, args)(args=args)  # typer's standalone mode: every command line ends in SystemExit
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)  # what the interpreter does with a non-integer SystemExit
        return 1
    return 0


def exit_now(code: int) -> NoReturn:
    """End the process once the command is done, skipping the interpreter's teardown.

    Why: tearing down botocore's models, clients and ~600 modules object by object takes ~0.2 s after the last
    byte is written (docs/benchmarks.md), as long as two requests to AWS. Nothing in it is needed: the state file
    is written, fsync'd and renamed in place before a command returns (state.save), and the state lock is
    released by then. What a normal exit still does that matters is done here first, in its order: wait for
    non-daemon threads (the lookups and write chains are daemon threads that have finished or are abandoned, as
    at a normal exit), run the atexit handlers (logging's flush, tempfile's clean-up), flush stdout and stderr.
    The same trick: Instagram's "Dismissing Python Garbage Collection at Instagram" (2017, `atexit.register(
    os._exit, 0)`), uWSGI's `--skip-atexit-teardown`."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:  # not CPython: exit the ordinary way
        sys.exit(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`xacct status | head`): nothing more can be written anyway
            pass
    os._exit(code)


def _terminate(signum, frame) -> NoReturn:
    from xacct_dataapi.errors import TerminationSignal

    raise TerminationSignal()


def main() -> NoReturn:
    import gc
    import signal

    gc.set_threshold(*GC_THRESHOLDS)
    # SIGTERM (a CI cancellation, `kill`) ends the run like Ctrl-C: a message and exit 143, never a silent death;
    # inside the executor it is deferred to the next call boundary like Ctrl-C (hooks.deferred_sigint).
    signal.signal(signal.SIGTERM, _terminate)
    exit_now(run())


cli_db.register_rotate(cli, handles_errors, NameOpt, StateOpt, Output, WaitTimeout, Debug)  # `xacct rotate`

if __name__ == "__main__":
    main()
