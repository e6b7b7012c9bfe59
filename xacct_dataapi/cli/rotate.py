"""`xacct rotate`: a new password for the database user xacct created, by Secrets Manager's rotation protocol."""
from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import Debug, NameOpt, Output, StateOpt, WaitTimeout, command_app, handles_errors

app = command_app()


@app.command("rotate", cls=Command)
@handles_errors
def rotate(name: NameOpt = None, state: StateOpt = None,
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
           output: Output = "text", wait_timeout: WaitTimeout = 300.0, debug: Debug = False):
    """A new password for the database user xacct created (--create-db-user), with no downtime for readers of
    AWSCURRENT: GetRandomPassword, AWSPENDING, ALTER ROLE as the admin, AWSCURRENT. Safe to re-run."""
    from xacct_dataapi.commands.common import resolve_state_path
    from xacct_dataapi.commands.setup import setup, setup_config
    from xacct_dataapi.errors import UsageError
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open(output, yes=yes)
    path = resolve_state_path(state, name)
    cfg, _ = setup_config(path, name, {})
    if not cfg.create_db_user:
        raise UsageError(f"Deployment {cfg.name!r} does not manage its database user, so xacct cannot rotate its "
                         "password.", "Re-run setup with --create-db-user (a user of its own), or change the "
                         "password in the database and run `xacct setup --rotate-password`.")
    cfg = dataclasses.replace(cfg, rotate_db_password=True)
    result = setup(cfg, path, ui, dry_run=False, password_from_stdin=False, wait_timeout=wait_timeout)
    _report(ui, result)


def _report(ui: Any, result: Any) -> None:
    version = result.state.values.get("db_user_password_version")
    if ui.json:
        ui.print_json({"rotated": "rds-data.execute_statement" in result.calls_made, "calls_made": result.calls_made,
                       "password_version": version, "problems": result.problems})
    else:
        ui.note(f"Rotated: the secret's AWSCURRENT is version {version}; the old password no longer logs in.")
