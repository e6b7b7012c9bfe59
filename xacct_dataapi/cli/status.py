"""`xacct status`: each step's status, as a table, a graph or JSON."""
from __future__ import annotations

from typing import Annotated

import typer

from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import (
    ConsumerOverride, Debug, NameOpt, Output, ProviderOverride, RegionOverride, StateOpt, command_app,
    handles_errors,
)

app = command_app()


@app.command("status", cls=Command)
@handles_errors
def status(
    name: NameOpt = None,
    state: StateOpt = None,
    consumer_profile: ConsumerOverride = None,
    provider_profile: ProviderOverride = None,
    region: RegionOverride = None,
    graph: Annotated[bool, typer.Option("--graph", help="Draw the chain: both accounts, every link, with ids and "
                                                        "states (a broken link in red, with the reason).")] = False,
    output: Output = "text",
    debug: Debug = False,
):
    """Show each step's status (done, pending, drifted, missing, failed). Read-only. Exit 0 only if all are done."""
    from xacct_dataapi import render
    from xacct_dataapi.commands.common import resolve_state_path
    from xacct_dataapi.commands.status import status as run_status
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open(output)
    path = resolve_state_path(state, name)
    report = run_status(path, consumer_profile, provider_profile, graph=graph and not ui.json, region=region)
    if ui.json:
        ui.print_json(report)
    elif graph:
        ui.print(render.status_graph(report))
    else:
        ui.print(render.status_table(report))
    if not report["all_done"]:
        return 1
