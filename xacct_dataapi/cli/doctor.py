"""`xacct doctor`: check every link of the chain and name the broken one."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import Debug, NameOpt, Output, StateOpt, command_app, handles_errors

app = command_app()


@app.command("doctor", cls=Command)
@handles_errors
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
    from xacct_dataapi import doctor as doctor_mod
    from xacct_dataapi.commands.common import resolve_state_path
    from xacct_dataapi.doctor.render import table
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open(output)
    path = None if (cluster or vpc) else resolve_state_path(state, name)
    report = doctor_mod.run(path, consumer_profile=consumer_profile, provider_profile=provider_profile,
                            region=region, cluster=cluster, vpc=vpc, role_arn=role_arn, secret_arn=secret_arn,
                            external_id=external_id, live=live, as_profile=as_profile)
    if ui.json:
        ui.print_json(report.to_json())
    else:
        ui.print(table(report))
    return report.exit_code or None
