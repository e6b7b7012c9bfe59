"""The command line of the deployment's own database user (issue 28): setup's options, and `xacct rotate`.
Kept apart from cli.py so the two can move independently; cli.py adds the options to setup and calls
register_rotate. Parsing only: the work is commands/setup.py's, with steps/db_user.py planning it."""

import dataclasses
from typing import Annotated, Any, Optional

import typer

CreateDbUser = Annotated[Optional[bool], typer.Option(
    "--create-db-user", show_default=False,
    help="xacct creates the --db-user through the Data API as the cluster's admin, with a password from Secrets "
         "Manager that nobody sees (rotation protocol: AWSPENDING, then AWSCURRENT), and applies the grants.")]
DbAccess = Annotated[Optional[str], typer.Option(
    "--db-access", metavar="read|write",
    help="With --create-db-user: read (SELECT) or write (SELECT, INSERT, UPDATE, DELETE) on every table of --db-schema.")]
DbSchema = Annotated[Optional[str], typer.Option("--db-schema", help="The schema --db-access applies to (default public).")]
DbGrant = Annotated[Optional[list[str]], typer.Option(
    "--db-grant", metavar="'PRIVILEGES ON OBJECTS'",
    help="A grant to hold, e.g. 'SELECT ON TABLE public.orders'; repeatable. Grants are desired state: a re-run "
         "revokes what is no longer asked for.")]
AdminSecret = Annotated[Optional[str], typer.Option(
    "--admin-secret", metavar="ARN",
    help="The secret of the admin that creates the user (default: the cluster's RDS-managed master user secret).")]


def db_user_given(create_db_user: bool | None, db_access: str | None, db_schema: str | None,
                  db_grant: list[str] | None, admin_secret: str | None) -> dict:
    """setup's `given` entries (None: not given, the recorded value stays)."""
    return {"create_db_user": create_db_user or None, "db_access": db_access, "db_schema": db_schema,
            "db_grants": tuple(db_grant) if db_grant else None, "admin_secret": admin_secret}


def register_rotate(cli: typer.Typer, handles_errors, NameOpt, StateOpt, Output, WaitTimeout, Debug) -> None:
    @cli.command()
    @handles_errors
    def rotate(name: NameOpt = None, state: StateOpt = None,
               yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
               output: Output = "text", wait_timeout: WaitTimeout = 300.0, debug: Debug = False):
        """A new password for the database user xacct created (--create-db-user), with no downtime for readers of
        AWSCURRENT: GetRandomPassword, AWSPENDING, ALTER ROLE as the admin, AWSCURRENT. Safe to re-run."""
        from xacct_dataapi import app as usecases
        from xacct_dataapi.errors import UsageError
        from xacct_dataapi.terminal import Terminal

        ui = Terminal.open(output, yes=yes)
        path = usecases.resolve_state_path(state, name)
        cfg, _ = usecases.setup_config(path, name, {})
        if not cfg.create_db_user:
            raise UsageError(f"Deployment {cfg.name!r} does not manage its database user, so xacct cannot rotate its "
                             "password.", "Re-run setup with --create-db-user (a user of its own), or change the "
                             "password in the database and run `xacct setup --rotate-password`.")
        cfg = dataclasses.replace(cfg, rotate_db_password=True)
        result = usecases.setup(cfg, path, ui, dry_run=False, password_from_stdin=False, wait_timeout=wait_timeout)
        _report(ui, result)


def _report(ui: Any, result: Any) -> None:
    version = result.state.values.get("db_user_password_version")
    if ui.json:
        ui.print_json({"rotated": "rds-data.execute_statement" in result.calls_made, "calls_made": result.calls_made,
                       "password_version": version, "problems": result.problems})
    else:
        ui.note(f"Rotated: the secret's AWSCURRENT is version {version}; the old password no longer logs in.")
