"""`xacct teardown`: delete exactly what xacct created, in reverse order."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import (
    ConsumerOverride, Debug, NameOpt, Output, ProviderOverride, RegionOverride, StateOpt, WaitTimeout, command_app,
    handles_errors,
)

app = command_app()


@app.command("teardown", cls=Command)
@handles_errors
def teardown(
    name: NameOpt = None,
    state: StateOpt = None,
    consumer_profile: ConsumerOverride = None,
    provider_profile: ProviderOverride = None,
    region: RegionOverride = None,
    key_deletion_days: Annotated[Optional[int], typer.Option("--key-deletion-days", help="KMS key deletion window, 7-30 (default: the value given to setup, else 7).")] = None,
    secret_recovery_days: Annotated[Optional[int], typer.Option("--secret-recovery-days",
                                                                help="Keep a 7-30 day recovery window for the secret "
                                                                     "(default: delete at once).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the teardown plan; change nothing.")] = False,
    output: Output = "text",
    wait_timeout: WaitTimeout = 300.0,
    debug: Debug = False,
):
    """Delete, in reverse order, exactly what xacct created. Adopted principals stay; only xacct's policy goes."""
    from xacct_dataapi.commands.common import resolve_state_path
    from xacct_dataapi.commands.teardown import removal_summary, teardown as run_teardown
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open(output, yes=yes)
    path = resolve_state_path(state, name)
    result = run_teardown(path, ui, name=name, consumer_profile=consumer_profile, provider_profile=provider_profile,
                               region=region, key_deletion_days=key_deletion_days,
                               secret_recovery_days=secret_recovery_days, wait_timeout=wait_timeout, dry_run=dry_run)
    if result.dry_run:
        return
    if ui.json:
        ui.print_json({"plan": result.plan_doc, "result": {
            "removed": result.removed, "calls_made": result.calls_made, "seconds": round(result.seconds, 2),
            "notes": result.notes}})
    elif result.plan.steps:
        ui.note(f"Teardown finished in {result.seconds:.1f}s: {removal_summary(result.removed)}.")
        for note in result.notes:
            ui.note(note)
