"""The `xacct` command line: parse, call app.py, render. No boto3 here."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from botocore.exceptions import BotoCoreError

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

Output = Annotated[str, typer.Option("--output", "-o", metavar="text|json", help="Output format: text or json.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
StateOpt = Annotated[Optional[Path], typer.Option("--state", help="State file (default .xacct/<name>.json).")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Deployment name (letters, digits, '-'; default 'default').")]
ConsumerOverride = Annotated[Optional[str], typer.Option("--consumer-profile", help="Override the recorded profile.")]
ProviderOverride = Annotated[Optional[str], typer.Option("--provider-profile", help="Override the recorded profile.")]
WaitTimeout = Annotated[float, typer.Option("--wait-timeout", min=1.0, help="Seconds to wait for AWS to settle (IAM propagation, "
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
    except BotoCoreError as exc:
        # Not an API error (those are ClientErrors, handled per step): a connection, endpoint or parsing failure.
        if debug:
            raise
        render.error(err, XacctError(f"AWS could not be reached or answered unexpectedly: {exc}.",
                                     "Check the region (--region), network access, and any AWS_ENDPOINT_URL / endpoint_url "
                                     "setting; re-run with --debug for details. Anything made so far is recorded."))
        raise typer.Exit(1) from None
    except OSError as exc:
        if debug:
            raise
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        render.error(err, XacctUsage(f"Cannot use{where}: {exc.strerror or exc}.",
                                     "Pass --state with a writable file path (not a directory), or fix the permissions."))
        raise typer.Exit(2) from None


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
    rotate_password: Annotated[bool, typer.Option("--rotate-password", help="Write the secret again with a new "
                                                                           "password (after changing it in the database).")] = False,
    db_password_stdin: Annotated[bool, typer.Option("--db-password-stdin", help="Read the DB password from stdin "
                                                                               "(or set XACCT_DB_PASSWORD).")] = False,
    key_deletion_days: Annotated[int, typer.Option("--key-deletion-days", help="KMS deletion window used at teardown (7-30).")] = 7,
    endpoint_policy: Annotated[str, typer.Option("--endpoint-policy", metavar="restricted|full", help="restricted: the endpoint carries only the access "
                                                                          "role's calls to this cluster; full: AWS's default "
                                                                          "(other Data API users in the VPC keep working).")] = "restricted",
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
                     enable_data_api=enable_data_api, key_deletion_days=key_deletion_days,
                     endpoint_policy=endpoint_policy, rotate_password=rotate_password)
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
        render.print_json(ui.out, {"plan": result.plan_doc, "result": {
            "changed": bool(result.calls_made), "calls_made": result.calls_made, "state_file": str(path),
            "seconds": round(result.seconds, 2), "problems": result.problems,
            "access_role_arn": v.get("access_role_arn"), "external_id": v.get("external_id"),
            "cluster_arn": v.get("cluster_arn"), "secret_arn": v.get("secret_arn"), "endpoint_id": v.get("endpoint_id")}})
    else:
        if not result.calls_made:
            ui.err.print("No changes: every step is already in place (see the reasons above).")
        else:
            ui.err.print(f"Applied {len(result.calls_made)} change(s) in {result.seconds:.1f}s; state in {path}.")
            for step in sorted(result.plan.steps, key=lambda s: s.number):
                if step.action.value == "repair" and not all(c.bookkeeping for c in step.calls):
                    ui.err.print(f"Repaired step {step.number} ({step.title}): {step.reason}.")
        for p in result.problems:
            ui.err.print(f"Step 8 failed: {p}")
        if not result.problems:
            how = (f"The application assumes {v.get('access_role_arn')} (ExternalId {v.get('external_id')}) and calls "
                   f"rds-data with resourceArn={v.get('cluster_arn')} secretArn={v.get('secret_arn')}.")
            ui.err.print(how, soft_wrap=True)


@cli.command()
def status(
    name: NameOpt = None,
    state: StateOpt = None,
    consumer_profile: ConsumerOverride = None,
    provider_profile: ProviderOverride = None,
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

    def go():
        ui = _ui(output, yes)
        path = usecases.resolve_state_path(state, name)
        result = usecases.teardown(path, ui, consumer_profile=consumer_profile, provider_profile=provider_profile,
                                   region=region, key_deletion_days=key_deletion_days,
                                   secret_recovery_days=secret_recovery_days, wait_timeout=wait_timeout, dry_run=dry_run)
        if result.dry_run:
            return
        if ui.json:
            render.print_json(ui.out, {"plan": result.plan_doc, "result": {
                "removed": result.removed, "calls_made": result.calls_made, "seconds": round(result.seconds, 2),
                "notes": result.notes}})
        elif result.plan.steps:
            ui.err.print(f"Removed {len(result.removed)} recorded resource(s) in {result.seconds:.1f}s.")
            for note in result.notes:
                ui.err.print(note)

    _run(debug, go)


@cli.command()
def verify(
    name: NameOpt = None,
    state: StateOpt = None,
    sql: Annotated[str, typer.Option("--sql", help="Statement to run through the Data API.")] = "SELECT 1",
    database: Annotated[Optional[str], typer.Option("--database", help="Database for the statement.")] = None,
    as_profile: Annotated[Optional[str], typer.Option("--as-profile", help="Profile that acts as the consumer principal "
                                                                           "(default: a temporary key for the user xacct "
                                                                           "created, else the consumer profile).")] = None,
    consumer_profile: ConsumerOverride = None,
    provider_profile: ProviderOverride = None,
    output: Output = "text",
    wait_timeout: WaitTimeout = 300.0,
    debug: Debug = False,
):
    """Prove the path: assume the access role as the consumer principal and run a statement through the Data API."""

    def go():
        ui = _ui(output)
        result = usecases.verify(usecases.resolve_state_path(state, name), sql=sql, as_profile=as_profile,
                                 database=database, consumer_profile=consumer_profile, provider_profile=provider_profile,
                                 wait_timeout=wait_timeout)
        doc = {"principal": result.principal, "role_arn": result.role_arn, "sql": result.sql,
               "records": result.records, "seconds": round(result.seconds, 2)}
        if ui.json:
            render.print_json(ui.out, doc)
        else:
            ui.out.print(f"OK: {result.principal} assumed {result.role_arn} and ran {sql!r} in {result.seconds:.1f}s.")
            ui.out.print(f"records: {result.records}")

    _run(debug, go)


@cli.command()
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

    def go():
        from xacct_dataapi import doctor as doctor_mod
        from xacct_dataapi.doctor.render import table

        ui = _ui(output)
        path = None if (cluster or vpc) else usecases.resolve_state_path(state, name)
        report = doctor_mod.run(path, consumer_profile=consumer_profile, provider_profile=provider_profile,
                                region=region, cluster=cluster, vpc=vpc, role_arn=role_arn, secret_arn=secret_arn,
                                external_id=external_id, live=live, as_profile=as_profile)
        if ui.json:
            render.print_json(ui.out, report.to_json())
        else:
            ui.out.print(table(report))
        if report.exit_code:
            raise typer.Exit(report.exit_code)

    _run(debug, go)


@cli.command()
def demo(
    engine: Annotated[str, typer.Option("--engine", metavar="aurora-postgresql|aurora-mysql", help="Engine of the sandbox's Aurora cluster.")] = "aurora-postgresql",
    output: Output = "text",
    debug: Debug = False,
):
    """Run the whole job against a throw-away local sandbox (no AWS account needed)."""

    def go():
        from xacct_dataapi.demo import run_demo

        ui = _ui(output, yes=True)
        started = time.perf_counter()
        result = _sandbox_call(lambda: run_demo(ui, engine=engine))
        total = time.perf_counter() - started
        summary = {
            "ok": result.ok,
            "seconds": round(total, 2),
            "phases": [{"name": p.name, "ok": p.ok, "seconds": round(p.seconds, 2), "detail": p.detail} for p in result.phases],
            "created": result.created,
            "leftovers": result.leftovers,
        }
        if ui.json:
            render.print_json(ui.out, summary)
        else:
            ui.out.print(render.demo_summary(summary))
        if not result.ok:
            raise typer.Exit(1)

    _run(debug, go)


sandbox_app = typer.Typer(help="A local two-account AWS sandbox (moto) to try xacct without an AWS account.",
                          no_args_is_help=True)
cli.add_typer(sandbox_app, name="sandbox")

SandboxDir = Annotated[Path, typer.Option("--dir", help="Where the sandbox writes its AWS config and credentials.")]


def _sandbox_call(fn):
    try:
        from xacct_dataapi import sandbox as sb
    except ImportError:  # pragma: no cover
        raise XacctUsage("The sandbox needs moto.", "Install it with: pip install 'xacct[sandbox]'") from None
    try:
        return fn()
    except sb.SandboxUnavailable as exc:
        raise XacctUsage(str(exc), "Install it with: pip install 'xacct[sandbox]'") from None
    except ValueError as exc:
        raise XacctUsage(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", "See `xacct sandbox up --help`.") from None
    except sb.SandboxError as exc:
        raise XacctError(f"Sandbox failed: {exc}") from None


def _running_sandbox(dir: Path) -> dict | None:
    import json
    import os

    try:
        info = json.loads((dir / "sandbox.json").read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info


@sandbox_app.command("up")
def sandbox_up(
    dir: SandboxDir = Path(".xacct/sandbox"),
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (default: a free one).")] = 0,
    engine: Annotated[str, typer.Option("--engine", metavar="aurora-postgresql|aurora-mysql", help="Engine of the sandbox's Aurora cluster.")] = "aurora-postgresql",
    debug: Debug = False,
):
    """Start the sandbox and serve until Ctrl-C or `xacct sandbox down`."""

    def go():
        import signal
        import threading

        from xacct_dataapi.sandbox import Sandbox

        running = _running_sandbox(dir)
        if running:
            raise XacctUsage(f"A sandbox is already running from {dir}: {running['endpoint_url']} (pid {running['pid']}).",
                             f"Use it (the exports are in {dir}), stop it with `xacct sandbox down --dir {dir}`, "
                             "or pass another --dir.")
        sandbox = Sandbox(dir, port=port, engine=engine)
        info = _sandbox_call(sandbox.start)
        out = render.make_console()
        env = info.env()
        out.print(f"Sandbox running at {info.endpoint_url}: consumer account {info.consumer_account} "
                  f"(profile {info.consumer_profile}), provider account {info.provider_account} (profile {info.provider_profile}).")
        out.print("Point your shell at it:")
        for k, v in env.items():
            out.print(f"  export {k}={v}", soft_wrap=True)
        out.print("Then try:")
        out.print(f"  XACCT_DB_PASSWORD=demo-only-password {info.setup_command()} --yes", soft_wrap=True)
        out.print("Stop it with Ctrl-C or `xacct sandbox down" + (f" --dir {dir}`." if str(dir) != ".xacct/sandbox" else "`."))
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            sandbox.stop()
            out.print("Sandbox stopped.")

    _run(debug, go)


@sandbox_app.command("down")
def sandbox_down(dir: SandboxDir = Path(".xacct/sandbox"), debug: Debug = False):
    """Stop a sandbox started with `xacct sandbox up`."""

    def go():
        import json
        import os
        import signal
        import time

        info_path = dir / "sandbox.json"
        try:
            pid = int(json.loads(info_path.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            raise XacctUsage(f"No running sandbox recorded in {info_path}.", "Pass the --dir given to `xacct sandbox up`.") from None
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            info_path.unlink(missing_ok=True)
            render.make_console(stderr=True).print(f"Sandbox process {pid} was already gone; cleaned up {info_path}.")
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        render.make_console(stderr=True).print(f"Sandbox (pid {pid}) stopped.")

    _run(debug, go)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
