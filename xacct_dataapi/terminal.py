"""The terminal: everything a command prints or asks, and the one mapping from a failure to an exit code.

Commands and use cases talk to the operator only through a Terminal (hatch's cli/terminal.py shape);
render.py holds the pure renderers (tables, JSON documents) it prints. Results go to stdout, everything
about the run (plans awaiting confirmation, progress, notes, errors) to stderr, so `--output json` keeps
stdout one parseable document.
"""
from __future__ import annotations

import functools
import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import typer
from botocore.exceptions import BotoCoreError
from botocore.parsers import ResponseParserError
from rich.console import Console, Group

from xacct_dataapi import layout, render
from xacct_dataapi.errors import (
    AWS_FAILURE, INTERNAL, Interrupted, Terminated, TerminationSignal, UsageError, XacctError,
)
from xacct_dataapi.models import Plan

# Reached only outside the runner (reading, planning, asking, reporting): while the runner makes changes, Ctrl-C is
# deferred to the next call boundary (hooks.deferred_sigint) and the runner says what it recorded, and where.
INTERRUPTED_MESSAGE = ("Interrupted with no change to AWS in flight. Re-run the same command to go on: the state "
                       "file records whatever earlier runs made.")
TERMINATED_MESSAGE = INTERRUPTED_MESSAGE.replace("Interrupted", "Terminated (SIGTERM)", 1)


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


@dataclass
class Terminal:
    out: Console
    err: Console
    json: bool = False
    yes: bool = False
    # Looked up at call time so tests can stand in for a terminal.
    stdin_tty: Callable[[], bool] = field(default=lambda: stdin_is_terminal())

    @classmethod
    def open(cls, output: str = "text", *, yes: bool = False) -> Terminal:
        """The terminal of one command run, for `--output text|json`."""
        if output not in ("text", "json"):
            raise UsageError(f"--output {output!r} is not supported.", "Use --output text or --output json.")
        return cls(out=render.make_console(), err=render.make_console(stderr=True), json=output == "json", yes=yes)

    def quiet(self) -> Terminal:
        """Text on stderr only, never asking: for use cases run inside another command (the demo)."""
        return Terminal(out=self.err, err=self.err, json=False, yes=True, stdin_tty=self.stdin_tty)

    def print(self, *objects: Any, soft_wrap: bool = False) -> None:
        """A result, on stdout. A table is fitted to the width (layout.py: no id split, none cut)."""
        _show(self.out, objects, soft_wrap)

    def note(self, *objects: Any, soft_wrap: bool | None = None) -> None:
        """Something about the run, on stderr. Text is wrapped at spaces to the width (layout.Prose: an id or a path is
        never split, and one longer than the line stands alone on it, whole); `soft_wrap=True` leaves it one line (a
        command to copy). Tables and other renderables lay themselves out."""
        if soft_wrap is None:
            objects = tuple(layout.Prose(o) if isinstance(o, str) else o for o in objects)
            soft_wrap = all(isinstance(o, layout.Prose) for o in objects)
        _show(self.err, objects, soft_wrap)

    def print_json(self, doc: Any) -> None:
        render.print_json(self.out, doc)

    def error(self, exc: XacctError) -> None:
        render.error(self.err, exc)

    def progress(self, plan: Plan | None = None) -> render.ProgressReporter:
        """The runner's Reporter: live progress on stderr (use it as a context manager around the run)."""
        return render.ProgressReporter(self.err, plan)

    def show_plan(self, plan: Plan, table, plan_doc: dict, dry_run: bool) -> None:
        """The plan before anything changes: a table, or with --output json the plan document for a dry run.
        A JSON run that will ask first shows the table on stderr (stdout carries the JSON result)."""
        if not self.json:
            self.print(table)
        elif dry_run:
            self.print_json(plan_doc)
        elif plan.changes and not self.yes:
            self.note(table)

    def confirm(self, question: str) -> bool:
        if self.yes:
            return True
        if not self.stdin_tty():
            raise UsageError("Confirmation needed but stdin is not a terminal.",
                             "Review the plan (e.g. with --dry-run) and re-run with --yes.")
        with _interruptible("the confirmation prompt"):
            return typer.confirm(question, default=False, err=True)

    def prompt_secret(self, question: str) -> str:
        """Ask twice, echoing nothing. The caller decides whether a terminal is there to ask."""
        with _interruptible("the password prompt"):
            return typer.prompt(question, hide_input=True, confirmation_prompt=True, err=True)


def _show(console: Console, objects: tuple, soft_wrap: bool) -> None:
    """Tables (fitted) and prose that layout.py lays out are printed without the console's crop, so an id too long for
    the width, alone on its line, stays whole; anything else as asked. A Group is shown part by part."""
    parts = [part for o in objects for part in (o.renderables if isinstance(o, Group) else [o])]
    if not any(layout.lays_out(part) for part in parts):
        console.print(*objects, soft_wrap=soft_wrap)
        return
    for part in parts:
        console.print(layout.for_terminal(part), soft_wrap=soft_wrap or layout.lays_out(part))


@contextmanager
def _interruptible(where: str) -> Iterator[None]:
    # typer's prompts turn Ctrl-C and end-of-input into typer.Abort (its own class, not click's), which typer
    # would report as "Aborted." with exit 1; nothing has changed yet, so it is an interruption (130) that says so.
    try:
        yield
    except (typer.Abort, KeyboardInterrupt, EOFError):
        raise Interrupted(f"Interrupted at {where}: nothing was changed.") from None
    except TerminationSignal:
        raise Terminated(f"Terminated (SIGTERM) at {where}: nothing was changed.") from None


def run_command(debug: bool, command: Callable[[], int | None], as_json: bool = False) -> None:
    """Run one command: its exit code, or its failure as one short paragraph on stderr (one JSON object with
    --output json) and the failure's exit code. --debug re-raises instead, for the traceback."""
    try:
        code = command()
    except (XacctError, KeyboardInterrupt, TerminationSignal, typer.Abort, BotoCoreError, ResponseParserError,
            OSError) as exc:
        if debug:
            raise
        raise typer.Exit(_report_failure(render.make_console(stderr=True), _as_failure(exc), as_json)) from None
    except Exception as exc:
        # Anything else is a bug in xacct: say so, with its own exit code, and no traceback (it could show
        # values) unless --debug. The state file was saved after every call that landed.
        if debug:
            raise
        bug = XacctError(f"Internal error (a bug in xacct): {type(exc).__name__}: {exc}.",
                         "The state file records everything made before it; re-run with --debug for the traceback "
                         "and report it.")
        bug.exit_code = INTERNAL
        raise typer.Exit(_report_failure(render.make_console(stderr=True), bug, as_json)) from None
    if code:
        raise typer.Exit(code)


def _as_failure(exc: BaseException) -> XacctError:
    """Every expected failure as an XacctError: a message, a hint, an exit code."""
    if isinstance(exc, XacctError):
        return exc
    if isinstance(exc, (KeyboardInterrupt, typer.Abort)):
        return Interrupted(INTERRUPTED_MESSAGE)
    if isinstance(exc, TerminationSignal):
        return Terminated(TERMINATED_MESSAGE)
    if isinstance(exc, (BotoCoreError, ResponseParserError)):  # the latter: an endpoint that answered non-AWS text
        # Not an API error (those are ClientErrors, handled per step): a connection, endpoint or parsing failure.
        failure = XacctError(f"AWS could not be reached or answered unexpectedly: {exc}.",
                             "Check the region (--region), network access, and any AWS_ENDPOINT_URL / endpoint_url "
                             "setting; re-run with --debug for details. Anything made so far is recorded.")
        failure.exit_code = AWS_FAILURE
        return failure
    where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
    return UsageError(f"Cannot use{where}: {exc.strerror or exc}.",
                      "Pass --state with a writable file path (not a directory), or fix the permissions.")


def _report_failure(err: Console, failure: XacctError, as_json: bool) -> int:
    if as_json:
        err.print(json.dumps({"error": {"message": failure.message, "hint": failure.hint,
                                        "exit_code": failure.exit_code, "kind": type(failure).__name__}}),
                  soft_wrap=True)
    elif isinstance(failure, Interrupted) and failure.message in (INTERRUPTED_MESSAGE, TERMINATED_MESSAGE):
        err.print(layout.Prose(failure.message), soft_wrap=True)
    else:
        render.error(err, failure)
    return failure.exit_code


def handles_errors(command: Callable[..., int | None]) -> Callable[..., None]:
    """Decorates a typer command (below @cli.command()) that takes `debug` and returns its exit code (None = 0)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        run_command(bool(kwargs.get("debug")), lambda: command(*args, **kwargs), kwargs.get("output") == "json")

    return run
