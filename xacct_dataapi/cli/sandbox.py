"""`xacct sandbox up|down`: a local two-account AWS sandbox (moto) to try xacct without an AWS account."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xacct_dataapi import sandbox  # light: its contents (moto, boto3) load on first use
from xacct_dataapi.cli.groups import Command, Group
from xacct_dataapi.cli.options import Debug, Engine, handles_errors

app = typer.Typer(name="sandbox", cls=Group, no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  pretty_exceptions_show_locals=False,
                  help="A local two-account AWS sandbox (moto) to try xacct without an AWS account.")

SandboxDir = Annotated[Path, typer.Option("--dir", help="Where the sandbox writes its AWS config and credentials.")]


@app.command("up", cls=Command)
@handles_errors
def sandbox_up(
    dir: SandboxDir = sandbox.DEFAULT_DIR,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (default: a free one).")] = 0,
    engine: Engine = "aurora-postgresql",
    engine_mode: Annotated[str, typer.Option("--engine-mode", metavar="provisioned|serverless", help="provisioned: Serverless v2 (Data API switched by EnableHttpEndpoint); serverless: Serverless v1 (ModifyDBCluster).")] = "provisioned",
    realistic: Annotated[bool, typer.Option("--realistic", help="Behave like AWS in time: latency per request, a new endpoint pending, new IAM principals not yet valid, ENIs lingering, a deleted secret's name blocked.")] = False,
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="With --realistic: latency added to every request.")] = 60.0,
    time_scale: Annotated[float, typer.Option("--time-scale", help="With --realistic: multiply the settling times (endpoint pending 20 s, new principal 5 s, ENIs 10 s, secret name 5 s, Data API switch 3 s).")] = 1.0,
    debug: Debug = False,
):
    """Start the sandbox and serve until Ctrl-C or `xacct sandbox down`."""
    from xacct_dataapi.sandbox.realism import Realism
    from xacct_dataapi.terminal import Terminal

    realism = Realism.realistic(latency_ms, time_scale) if realistic else None
    sandbox.serve(dir, port, engine, Terminal.open(), engine_mode=engine_mode, realism=realism)


@app.command("down", cls=Command)
@handles_errors
def sandbox_down(dir: SandboxDir = sandbox.DEFAULT_DIR, debug: Debug = False):
    """Stop a sandbox started with `xacct sandbox up`."""
    from xacct_dataapi.terminal import Terminal

    Terminal.open().note(sandbox.stop_recorded(dir))
