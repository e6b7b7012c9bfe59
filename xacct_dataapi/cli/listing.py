"""`xacct list`: the deployments with a state file here or under a team state prefix."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import Debug, Output, command_app, handles_errors

app = command_app()


@app.command("list", cls=Command)
@handles_errors
def list_(state: Annotated[Optional[Path], typer.Option("--state", help="Team state: s3://BUCKET/PREFIX/ (default: "
                                                        "XACCT_STATE, else .xacct/ here).")] = None,
          refresh: Annotated[bool, typer.Option("--refresh", help="Also ask AWS (listing calls in bulk) whether it still "
                                                "has each deployment's resources, and which it has without a state "
                                                "file here.")] = False,
          output: Output = "text", debug: Debug = False):
    """List the deployments with a state file in .xacct/ or under a team state prefix (from the state alone, or
    with --refresh from AWS too)."""
    from xacct_dataapi import render
    from xacct_dataapi.commands.listing import list_deployments
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open(output)
    found = list_deployments(where=state, refresh=refresh)
    if ui.json:
        ui.print_json(found)
    elif not found:
        ui.note("No deployments: no state files in .xacct/ here.")
    else:
        ui.print(render.deployments_table(found))
