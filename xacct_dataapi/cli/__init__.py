"""The `xacct` command line: parse, call the use cases, render. One module per command in this package, each imported
only when its command runs (groups.LazyGroup); the use cases live in xacct_dataapi/commands/ and know no UI.

The console script (`xacct = "xacct_dataapi.cli:main"`) and `python -m xacct_dataapi` both run `main`.
"""
from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

from xacct_dataapi import GC_THRESHOLDS, __version__
from xacct_dataapi.cli.groups import LazyCommand, LazyGroup

# In the order `xacct --help` lists them. Each summary is one whole sentence that fits beside the longest name at
# 80 columns (tests/ux/test_help_width.py).
COMMANDS = {
    "setup": LazyCommand("xacct_dataapi.cli.setup", "Create or repair everything the Data API path needs."),
    "status": LazyCommand("xacct_dataapi.cli.status", "Show whether each step is done, drifted or missing."),
    "list": LazyCommand("xacct_dataapi.cli.listing", "List the deployments recorded here or in team state."),
    "teardown": LazyCommand("xacct_dataapi.cli.teardown", "Delete, in reverse order, exactly what xacct created."),
    "force-unlock": LazyCommand("xacct_dataapi.cli.force_unlock",
                                "Remove a team state lock whose holder is gone for good."),
    "verify": LazyCommand("xacct_dataapi.cli.verify", "Run a statement as the application would."),
    "connect": LazyCommand("xacct_dataapi.cli.connect", "Print what the application needs to connect."),
    "export": LazyCommand("xacct_dataapi.cli.export", "Write the deployment as CloudFormation templates."),
    "doctor": LazyCommand("xacct_dataapi.cli.doctor", "Check every link of the chain and name the broken one."),
    "demo": LazyCommand("xacct_dataapi.cli.demo", "Run the whole job against a throw-away local sandbox."),
    "permissions": LazyCommand("xacct_dataapi.cli.permissions", "Print the IAM policy your own profile needs."),
    "rotate": LazyCommand("xacct_dataapi.cli.rotate", "Give the database user xacct created a new password."),
    "sandbox": LazyCommand("xacct_dataapi.cli.sandbox", "Start or stop a local two-account AWS sandbox."),
}


class XacctCommands(LazyGroup):
    registry = COMMANDS


cli = typer.Typer(
    name="xacct",
    cls=XacctCommands,
    help="Give an application in one AWS account SQL access to an Aurora cluster in another, through the RDS Data API "
    "over PrivateLink: set up, check, and tear down exactly.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals could hold credentials
    # --install-completion / --show-completion (bash, zsh, fish, PowerShell): commands, options, --output values.
    add_completion=True,
    rich_markup_mode=None,  # plain click help and usage errors: rich's help formatting costs more than all of click
)


def version_callback(value: bool):
    if value:
        typer.echo(f"xacct {__version__}")
        raise typer.Exit()


@cli.callback()
def main_callback(
    # A plain bool (not Optional[bool]): typer then skips its pydantic coercion, so usage errors never import pydantic.
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="Print the version and exit.")] = False,
):
    """xacct — cross-account RDS Data API over PrivateLink."""


def run(args: list[str] | None = None) -> int:
    """Parse and run one command line (default: sys.argv); its exit code: 0, 1 AWS-side, 2 usage, 130 interrupted."""
    from xacct_dataapi.cli.option_values import use_plain_coercion

    use_plain_coercion()
    if args is None:
        args = sys.argv[1:]
    try:
        cli(args=args)  # typer's standalone mode: every command line ends in SystemExit
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)  # what the interpreter does with a non-integer SystemExit
        return 1
    return 0


def _terminate(signum, frame) -> NoReturn:
    from xacct_dataapi.errors import TerminationSignal

    raise TerminationSignal()


def main() -> NoReturn:
    import gc
    import signal

    gc.set_threshold(*GC_THRESHOLDS)
    # SIGTERM (a CI cancellation, `kill`) ends the run like Ctrl-C: a message and exit 143, never a silent death;
    # inside the executor it is deferred to the next call boundary like Ctrl-C (hooks.deferred_sigint).
    signal.signal(signal.SIGTERM, _terminate)
    code = run()
    # The interpreter's shutdown collects garbage several times over everything still alive: botocore's models and
    # ~600 modules, ~0.1 s of CPU after the last byte is written (docs/benchmarks.md). Frozen objects (gc.freeze, the
    # documented way to keep long-lived objects out of collections) are not traversed; the exit stays an ordinary one:
    # atexit handlers run, non-daemon threads are joined, streams flushed, modules torn down and objects freed.
    gc.freeze()
    sys.exit(code)
