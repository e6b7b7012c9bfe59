"""`xacct verify`: prove the path as the application would."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import (
    ConsumerOverride, Debug, NameOpt, Output, ProviderOverride, RegionOverride, StateOpt, command_app,
    handles_errors,
)

app = command_app()


@app.command("verify", cls=Command)
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
    region: RegionOverride = None,
    output: Output = "text",
    wait_timeout: Annotated[float, typer.Option("--wait-timeout", min=1.0, max=120.0, help="Seconds to retry while IAM "
                                                "propagates (at most 120).")] = 120.0,
    debug: Debug = False,
):
    """Prove the path as the application would: refuse unless `status` is all done, then act as the consumer
    principal, assume the access role and run a statement in the recorded database."""
    from xacct_dataapi import layout, render
    from xacct_dataapi.commands.common import resolve_state_path
    from xacct_dataapi.commands.handoff import verify as run_verify
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open(output)
    result = run_verify(resolve_state_path(state, name), ui, sql=sql, as_profile=as_profile,
                             database=database, consumer_profile=consumer_profile, provider_profile=provider_profile,
                             wait_timeout=wait_timeout, region=region)
    if ui.json:
        ui.print_json(result.to_json())
        return
    ui.print(layout.Prose(f"OK: {result.principal} assumed {result.assumed} and ran {sql!r} in database "
                          f"{result.database!r} in {result.seconds:.1f}s: {len(result.rows)} row(s)."))
    if result.rows:
        ui.print(render.rows_table(result.columns, result.rows))
