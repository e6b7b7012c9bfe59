"""`xacct setup`: parse the flags, run commands.setup, report what it did."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from xacct_dataapi.cli.db_user import AdminSecret, CreateDbUser, DbAccess, DbGrant, DbSchema, db_user_given
from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import Debug, NameOpt, Output, StateOpt, WaitTimeout, command_app, handles_errors

if TYPE_CHECKING:
    from xacct_dataapi.commands.setup import SetupResult
    from xacct_dataapi.terminal import Terminal

app = command_app()


@app.command("setup", cls=Command)
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
    name: NameOpt = None,
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
    create_db_user: CreateDbUser = None,
    db_access: DbAccess = None,
    db_schema: DbSchema = None,
    db_grant: DbGrant = None,
    admin_secret: AdminSecret = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    output: Output = "text",
    wait_timeout: WaitTimeout = 300.0,
    debug: Debug = False,
):
    """Create (or repair) everything the cross-account Data API path needs. Safe to re-run.

    Re-running an existing deployment needs only --name (or --state): every other input comes from its state file,
    and any flag given replaces the recorded value (the plan lists what changed)."""
    from xacct_dataapi.commands.common import resolve_state_path
    from xacct_dataapi.commands.setup import setup as run_setup, setup_config
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open(output, yes=yes)
    path = resolve_state_path(state, name)
    given = {"provider_profile": provider_profile, "consumer_profile": consumer_profile, "region": region,
             "cluster": cluster, "vpc_id": vpc, "db_user": db_user, "db_name": db_name,
             "subnet_ids": None if subnets is None else tuple(s.strip() for s in subnets.split(",") if s.strip()),
             "consumer_role": consumer_role, "consumer_user": consumer_user,
             "enable_data_api": enable_data_api or None, "key_deletion_days": key_deletion_days,
             "endpoint_policy": endpoint_policy, "secret_readers": tuple(secret_reader) if secret_reader else None,
             "require_private_path": require_private_path or None,
             "client_cidrs": tuple(client_cidr) if client_cidr else None,
             **db_user_given(create_db_user, db_access, db_schema, db_grant, admin_secret)}
    cfg, changed = setup_config(path, name, given, rotate_password)
    cfg.validate()
    result = run_setup(cfg, path, ui, dry_run=dry_run, password_from_stdin=db_password_stdin,
                            wait_timeout=wait_timeout, changed_inputs=changed)
    if dry_run:
        if not ui.json:
            ui.note("Dry run: nothing was changed and no state was written.")
        return
    report_setup(ui, result, path)
    if result.problems:
        return 1


def report_setup(ui: Terminal, result: SetupResult, path: Path) -> None:
    from xacct_dataapi.models import Action

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
            repaired = [step for step in sorted(result.plan.steps, key=lambda s: s.number)
                        if step.action is Action.REPAIR and not all(c.bookkeeping for c in step.calls)]
            if repaired and result.resumed_after_interrupt:
                # An interrupted run leaves a resource made but not yet configured; its repair reads like drift.
                ui.note("The last run was interrupted: it left the steps below part-made (or they drifted since).")
            for step in repaired:
                ui.note(f"Repaired step {step.number} ({step.title}): {step.reason}.")
        for step in result.plan.steps:
            for problem in (step.problems if step.action is Action.CHECK else []) + step.foreign:
                ui.note(f"Step {step.number} ({step.title}) failed: {problem}")
        if not result.problems:
            how = (f"The application assumes {v.get('access_role_arn')} (ExternalId {v.get('external_id')}) and calls "
                   f"rds-data with resourceArn={v.get('cluster_arn')} secretArn={v.get('secret_arn')} "
                   f"database={v.get('database')}. Everything it needs: `xacct connect --name {result.state.name}`.")
            ui.note(how)

