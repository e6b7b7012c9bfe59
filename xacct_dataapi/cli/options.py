"""What the command modules share: one typer app per command, the options several commands take, and the error
handling every command runs under.

Light on purpose (typer only): a command module imports this at the top, and its --help and usage errors must not
import boto3, rich or the use cases; each command imports those in its body, when it runs.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer


def command_app() -> typer.Typer:
    """The typer app of one command module: its command (or group) is added to `xacct` by the lazy group."""
    return typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_show_locals=False)


def handles_errors(command: Callable[..., Any]) -> Callable[..., None]:
    """xacct_dataapi.terminal.handles_errors (one failure, one message, one exit code), imported when the command runs:
    the terminal module imports rich and botocore, which neither --help nor a usage error needs."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        from xacct_dataapi.terminal import handles_errors as terminal_handles_errors

        return terminal_handles_errors(command)(*args, **kwargs)

    return run


Output = Annotated[str, typer.Option("--output", "-o", metavar="text|json", help="Output format: text or json.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
StateOpt = Annotated[Optional[Path], typer.Option("--state", help="State file (default .xacct/<name>.json).")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Deployment name (letters, digits, '-'; default "
                                                               "'default').")]
ConsumerOverride = Annotated[Optional[str], typer.Option("--consumer-profile", help="Override the recorded profile.")]
ProviderOverride = Annotated[Optional[str], typer.Option("--provider-profile", help="Override the recorded profile.")]
RegionOverride = Annotated[Optional[str], typer.Option("--region", help="Override the recorded region.")]
WaitTimeout = Annotated[float, typer.Option("--wait-timeout", min=1.0, help="Seconds to wait for AWS to settle (IAM "
                                                                        "propagation, endpoint availability, "
                                                                        "deletions).")]
Engine = Annotated[str, typer.Option("--engine", metavar="aurora-postgresql|aurora-mysql",
                                     help="Engine of the sandbox's Aurora cluster.")]
