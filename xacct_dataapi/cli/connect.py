"""`xacct connect`: print (or write) what the application team needs; no secrets."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import Debug, NameOpt, StateOpt, command_app, handles_errors

app = command_app()


@app.command("connect", cls=Command)
@handles_errors
def connect(
    name: NameOpt = None,
    state: StateOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="text|profile|env|python|sqlalchemy|json",
                                        help="What to print for the application team.")] = "text",
    source_profile: Annotated[Optional[str], typer.Option("--source-profile", help="Profile of the consumer principal "
                                                                                   "the role profile starts from.")] = None,
    credential_source: Annotated[Optional[str], typer.Option("--credential-source", metavar="Ec2InstanceMetadata|EcsContainer|Environment",
                                                             help="Where the consumer principal's credentials come from "
                                                                  "(instead of --source-profile).")] = None,
    profile_name: Annotated[Optional[str], typer.Option("--profile-name", help="Profile name (default xacct-<name>).")] = None,
    write: Annotated[bool, typer.Option("--write", help="Merge the profile into the AWS config file (AWS_CONFIG_FILE or "
                                                        "~/.aws/config); replaces only its own section, keeps a backup.")] = False,
    debug: Debug = False,
):
    """Hand the access to the application: role, external id, cluster, secret, database, who must call (no secrets)."""
    from xacct_dataapi.commands.common import resolve_state_path
    from xacct_dataapi.commands.handoff import connect as run_connect
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open()
    result = run_connect(resolve_state_path(state, name), fmt=format, source_profile=source_profile,
                              credential_source=credential_source, profile_name=profile_name, write=write)
    ui.out.file.write(result.text)  # as is: a config block or a snippet must not be re-wrapped or styled
    if result.written:
        ui.note(f"{'Wrote' if result.changed else 'Already up to date:'} the profile in {result.written}"
                f"{' (previous file kept as ' + result.written.name + '.xacct-backup)' if result.changed else ''}.")
