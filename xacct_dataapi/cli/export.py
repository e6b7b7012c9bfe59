"""`xacct export`: the deployment as CloudFormation templates."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import (
    ConsumerOverride, Debug, NameOpt, ProviderOverride, StateOpt, command_app, handles_errors,
)

app = command_app()


@app.command("export", cls=Command)
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
    from xacct_dataapi.commands.common import resolve_state_path

    path = resolve_state_path(state, name)
    for written in export_mod.export(path, out, fmt=fmt, consumers_from=consumers_from,
                                     consumer_profile=consumer_profile, provider_profile=provider_profile):
        typer.echo(str(written))
