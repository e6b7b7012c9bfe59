"""`xacct demo`: the whole job against a throw-away local sandbox."""
from __future__ import annotations

import time
from typing import Annotated

import typer

from xacct_dataapi.cli.groups import Command
from xacct_dataapi.cli.options import Debug, Engine, Output, command_app, handles_errors

app = command_app()


@app.command("demo", cls=Command)
@handles_errors
def demo(
    engine: Engine = "aurora-postgresql",
    verbose: Annotated[bool, typer.Option(
        "--verbose", help="Everything: the full plan, setup's and teardown's progress, the status table.")] = False,
    output: Output = "text",
    debug: Debug = False,
):
    """Run the whole job against a throw-away local sandbox (no AWS account needed)."""
    from xacct_dataapi import render, sandbox
    from xacct_dataapi.demo import run_demo
    from xacct_dataapi.terminal import Terminal

    ui = Terminal.open(output, yes=True)
    started = time.perf_counter()
    with sandbox.as_xacct_errors():
        result = run_demo(ui, engine=engine, verbose=verbose)
    total = time.perf_counter() - started
    summary = {
        "ok": result.ok,
        "seconds": round(total, 2),
        "phases": [{"name": p.name, "ok": p.ok, "seconds": round(p.seconds, 2), "detail": p.detail} for p in result.phases],
        "created": result.created,
        "leftovers": result.leftovers,
    }
    if ui.json:
        ui.print_json(summary)
    else:
        ui.print(render.demo_summary(summary))
    if not result.ok:
        return 1
