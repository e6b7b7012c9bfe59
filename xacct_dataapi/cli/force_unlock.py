"""`xacct force-unlock`: remove a team state lock whose holder is gone."""
from __future__ import annotations

from typing import Annotated

import typer

from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import Debug, NameOpt, Output, StateOpt, command_app, handles_errors

app = command_app()


@app.command("force-unlock", cls=Command)
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
    from xacct_dataapi.commands.common import resolve_state_path
    from xacct_dataapi.commands.listing import force_unlock as run_force_unlock
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open(output, yes=yes)
    path = resolve_state_path(state, name)
    held = run_force_unlock(path, lock_id, ui)
    ui.note(f"Unlocked {path}: the lock of pid {held.get('pid')} on host {held.get('host')} "
            f"(since {held.get('since')}) is gone.")
