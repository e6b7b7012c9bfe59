"""`xacct permissions`: the minimal IAM policy the operator's own profile needs."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from xacct_dataapi.cli.db_user import AdminSecret, CreateDbUser
from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import Debug, Output, command_app, handles_errors

app = command_app()


@app.command("permissions", cls=Command)
@handles_errors
def permissions(
    side: Annotated[str, typer.Option("--side", metavar="provider|consumer", help="Which profile the policy is for.")],
    for_: Annotated[str, typer.Option("--for", metavar="setup|status|teardown|verify|doctor|list|all",
                                      help="Only what this command calls (default: all).")] = "all",
    name: Annotated[str, typer.Option("--name", help="Confine to one deployment (default: every xacct deployment).")] = "*",
    region: Annotated[Optional[str], typer.Option("--region", help="Region (also sets the partition).")] = None,
    provider_account: Annotated[str, typer.Option("--provider-account", help="Provider account id.")] = "PROVIDER",
    consumer_account: Annotated[str, typer.Option("--consumer-account", help="Consumer account id.")] = "CONSUMER",
    cluster: Annotated[str, typer.Option("--cluster", help="Cluster identifier.")] = "CLUSTER_ID",
    vpc: Annotated[str, typer.Option("--vpc", help="Consumer VPC id; for a move, the old and new joined by a comma.")] = "VPC_ID",
    consumer_role: Annotated[Optional[str], typer.Option("--consumer-role", help="Adopted consumer role name.")] = None,
    consumer_user: Annotated[Optional[str], typer.Option("--consumer-user", help="Adopted consumer user name.")] = None,
    role_arn: Annotated[Optional[str], typer.Option(
        "--role-arn", help="doctor without a state file: the role of a chain xacct did not make.")] = None,
    secret_arn: Annotated[Optional[str], typer.Option(
        "--secret-arn", help="doctor without a state file: that chain's secret.")] = None,
    create_db_user: CreateDbUser = None,  # the rotation protocol and SQL as the admin
    admin_secret: AdminSecret = None,
    state_bucket: Annotated[Optional[str], typer.Option(
        "--state-bucket", metavar="s3://BUCKET/PREFIX/",
        help="Add the team state's statements (for the profile XACCT_STATE_PROFILE names).")] = None,
    output: Output = "text",
    debug: Debug = False,
):
    """Print the minimal IAM policy your own profile needs, generated from the calls xacct makes (docs/permissions.md)."""
    from xacct_dataapi import permissions as perms
    from xacct_dataapi.commands.listing import permissions_scope
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open(output)
    given = {"region": region, "provider": provider_account, "consumer": consumer_account, "cluster": cluster,
             "vpc": vpc, "consumer_role": consumer_role, "consumer_user": consumer_user,
             "create_db_user": create_db_user, "admin_secret": admin_secret, "role_arn": role_arn,
             "secret_arn": secret_arn}
    doc = perms.policy_for_cli(side, for_, name=name, state_bucket=state_bucket, **permissions_scope(name, given))
    ui.print_json(doc)  # the policy is JSON either way; text adds a note on stderr
    if not ui.json:
        ui.note(perms.cli_note(doc))
