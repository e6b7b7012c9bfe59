"""The `xacct` command line: parse, call app.py, render. No boto3 here."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from xacct_dataapi import __version__, app as usecases, render
from xacct_dataapi.config import Config
from xacct_dataapi.errors import INTERRUPTED, XacctError

cli = typer.Typer(
    name="xacct",
    help="Give an application in one AWS account SQL access to an Aurora cluster in another, through the RDS Data API "
    "over PrivateLink: set up, check, and tear down exactly.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals could hold credentials
    add_completion=False,
)

Output = Annotated[str, typer.Option("--output", "-o", help="text or json.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
StateOpt = Annotated[Optional[Path], typer.Option("--state", help="State file (default .xacct/<name>.json).")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Deployment name (letters, digits, '-'; default 'default').")]
WaitTimeout = Annotated[float, typer.Option("--wait-timeout", help="Seconds to wait for AWS to settle (IAM propagation, "
                                                                   "endpoint availability, deletions).")]


def _ui(output: str, yes: bool = False) -> usecases.UI:
    if output not in ("text", "json"):
        raise XacctUsage(f"--output {output!r} is not supported.", "Use --output text or --output json.")
    return usecases.UI(out=render.make_console(), err=render.make_console(stderr=True), json=output == "json", yes=yes)


class XacctUsage(XacctError):
    exit_code = 2


def _run(debug: bool, fn):
    err = render.make_console(stderr=True)
    try:
        return fn()
    except XacctError as exc:
        if debug:
            raise
        render.error(err, exc)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        if debug:
            raise
        err.print("Interrupted. Re-run the same command to resume; the state file records everything made so far.")
        raise typer.Exit(INTERRUPTED) from None


def version_callback(value: bool):
    if value:
        typer.echo(f"xacct {__version__}")
        raise typer.Exit()


@cli.callback()
def main_callback(
    version: Annotated[Optional[bool], typer.Option("--version", callback=version_callback, is_eager=True)] = None,
):
    """xacct — cross-account RDS Data API over PrivateLink."""


@cli.command()
def setup(
    provider_profile: Annotated[str, typer.Option("--provider-profile", help="Profile of the account that owns the cluster.")],
    cluster: Annotated[str, typer.Option("--cluster", help="Aurora cluster identifier or ARN (provider account).")],
    vpc: Annotated[str, typer.Option("--vpc", help="Consumer VPC id for the rds-data endpoint.")],
    subnets: Annotated[str, typer.Option("--subnets", help="Consumer subnet ids, comma-separated, one per AZ.")],
    consumer_profile: Annotated[Optional[str], typer.Option("--consumer-profile", envvar="AWS_PROFILE",
                                                            help="Profile of the application's account (default: AWS_PROFILE).")] = None,
    region: Annotated[Optional[str], typer.Option("--region", help="Region (default: the provider profile's).")] = None,
    name: Annotated[str, typer.Option("--name", help="Deployment name (letters, digits, '-').")] = "default",
    state: StateOpt = None,
    db_user: Annotated[str, typer.Option("--db-user", help="Database user the Data API connects as.")] = "app_user",
    db_name: Annotated[Optional[str], typer.Option("--db-name", help="Database name (default: the cluster's).")] = None,
    consumer_role: Annotated[Optional[str], typer.Option("--consumer-role", help="Existing consumer role (name or ARN) to grant.")] = None,
    consumer_user: Annotated[Optional[str], typer.Option("--consumer-user", help="Existing consumer IAM user to grant.")] = None,
    enable_data_api: Annotated[bool, typer.Option("--enable-data-api", help="Turn the cluster's Data API on if it is off.")] = False,
    db_password_stdin: Annotated[bool, typer.Option("--db-password-stdin", help="Read the DB password from stdin "
                                                                               "(or set XACCT_DB_PASSWORD).")] = False,
    key_deletion_days: Annotated[int, typer.Option("--key-deletion-days", help="KMS deletion window used at teardown (7-30).")] = 7,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    output: Output = "text",
    wait_timeout: WaitTimeout = 300.0,
    debug: Debug = False,
):
    """Create (or repair) everything the cross-account Data API path needs. Safe to re-run."""

    def go():
        ui = _ui(output, yes)
        cfg = Config(name=name, consumer_profile=consumer_profile, provider_profile=provider_profile, cluster=cluster,
                     vpc_id=vpc, subnet_ids=tuple(s.strip() for s in subnets.split(",") if s.strip()), region=region,
                     db_user=db_user, db_name=db_name, consumer_role=consumer_role, consumer_user=consumer_user,
                     enable_data_api=enable_data_api, key_deletion_days=key_deletion_days)
        cfg.validate()
        path = state or usecases.resolve_state_path(None, name)
        result = usecases.setup(cfg, path, ui, dry_run=dry_run, password_from_stdin=db_password_stdin,
                                wait_timeout=wait_timeout)
        if dry_run:
            if not ui.json:
                ui.err.print("Dry run: nothing was changed and no state was written.")
            return
        _report_setup(ui, result, path)
        if result.problems:
            raise typer.Exit(1)

    _run(debug, go)


def _report_setup(ui: usecases.UI, result, path: Path) -> None:
    v = result.state.values
    if ui.json:
        render.print_json(ui.out, {"result": {
            "changed": bool(result.calls_made), "calls_made": result.calls_made, "state_file": str(path),
            "seconds": round(result.seconds, 2), "problems": result.problems,
            "access_role_arn": v.get("access_role_arn"), "external_id": v.get("external_id"),
            "cluster_arn": v.get("cluster_arn"), "secret_arn": v.get("secret_arn"), "endpoint_id": v.get("endpoint_id")}})
    else:
        if not result.calls_made:
            ui.err.print("No changes: every step is already in place (see the reasons above).")
        else:
            ui.err.print(f"Applied {len(result.calls_made)} change(s) in {result.seconds:.1f}s; state in {path}.")
        for p in result.problems:
            ui.err.print(f"Step 8 failed: {p}")
        if not result.problems:
            ui.err.print(
                "The application assumes "
                f"{v.get('access_role_arn')} (ExternalId {v.get('external_id')}) and calls rds-data with "
                f"resourceArn={v.get('cluster_arn')} secretArn={v.get('secret_arn')}.")


@cli.command()
def status(
    name: NameOpt = None,
    state: StateOpt = None,
    consumer_profile: Annotated[Optional[str], typer.Option("--consumer-profile", help="Override the recorded profile.")] = None,
    provider_profile: Annotated[Optional[str], typer.Option("--provider-profile", help="Override the recorded profile.")] = None,
    output: Output = "text",
    debug: Debug = False,
):
    """Show each step's status (done, pending, drifted, missing, failed). Read-only. Exit 0 only if all are done."""

    def go():
        ui = _ui(output)
        path = usecases.resolve_state_path(state, name)
        report = usecases.status(path, consumer_profile, provider_profile)
        if ui.json:
            render.print_json(ui.out, report)
        else:
            ui.out.print(render.status_table(report))
        if not report["all_done"]:
            raise typer.Exit(1)

    _run(debug, go)


@cli.command()
def teardown(
    name: NameOpt = None,
    state: StateOpt = None,
    consumer_profile: Annotated[Optional[str], typer.Option("--consumer-profile", help="Override the recorded profile.")] = None,
    provider_profile: Annotated[Optional[str], typer.Option("--provider-profile", help="Override the recorded profile.")] = None,
    region: Annotated[Optional[str], typer.Option("--region", help="Override the recorded region.")] = None,
    key_deletion_days: Annotated[Optional[int], typer.Option("--key-deletion-days", help="KMS key deletion window, 7-30 (default 7).")] = None,
    secret_recovery_days: Annotated[Optional[int], typer.Option("--secret-recovery-days",
                                                                help="Keep a 7-30 day recovery window for the secret "
                                                                     "(default: delete at once).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
    output: Output = "text",
    wait_timeout: WaitTimeout = 300.0,
    debug: Debug = False,
):
    """Delete, in reverse order, exactly what xacct created. Adopted principals stay; only xacct's policy goes."""

    def go():
        ui = _ui(output, yes)
        path = usecases.resolve_state_path(state, name)
        result = usecases.teardown(path, ui, consumer_profile=consumer_profile, provider_profile=provider_profile,
                                   region=region, key_deletion_days=key_deletion_days,
                                   secret_recovery_days=secret_recovery_days, wait_timeout=wait_timeout)
        if result.plan.steps:
            ui.err.print(f"Removed {len(result.removed)} recorded resource(s) in {result.seconds:.1f}s.")

    _run(debug, go)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
