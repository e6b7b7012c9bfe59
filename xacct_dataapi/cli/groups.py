"""The click classes under xacct's typer apps: help that keeps words and sentences whole, and the lazy group.

The lazy group is the usual one (click's "Lazily Loading Subcommands", pip's and hatch's command registries): it
knows each command's name, module and one-sentence summary, and imports a command's module only when that command
runs or shows its own help. `xacct --help` imports no command module; `xacct status ...` imports only
xacct_dataapi.cli.status (and, once it runs, what the status use case needs).
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# Stands in for "-" inside a word while the help is wrapped, so that a line never breaks after the hyphen of a flag
# (--consumer-profile), a name (xacct-<name>) or a path (docs/how-it-works.md). One column wide, like "-".
_GLUED_HYPHEN = "\u2011"


class WholeWordsFormatter(typer.Context.formatter_class):  # type: ignore[misc,valid-type]
    """click's help formatter, wrapping only at spaces: a word, flag, id or path is never split over two lines."""

    def write_text(self, text: str) -> None:
        super().write_text(_glue(text))

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        super().write_dl([(first, _glue(second)) for first, second in rows], col_max, col_spacing)

    def write(self, string: str) -> None:
        super().write(string.replace(_GLUED_HYPHEN, "-"))


def _glue(text: str) -> str:
    return text.replace("-", _GLUED_HYPHEN)


class HelpContext(typer.Context):
    formatter_class = WholeWordsFormatter


class Command(TyperCommand):
    """Every xacct command: pass as `cls=` to `@app.command`."""

    context_class = HelpContext


class Group(TyperGroup):
    """A group whose command list shows each command's summary whole (click cuts it with "..." to fit one line)."""

    context_class = HelpContext

    def summaries(self, ctx: Any) -> list[tuple[str, str]]:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.short_help or " ".join((command.help or "").split("\n\n")[0].split())))
        return rows

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = self.summaries(ctx)
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@dataclass(frozen=True)
class LazyCommand:
    module: str  # the module that defines `app`, a typer.Typer with this one command (or one group)
    summary: str  # one whole sentence for the command list of `xacct --help`


class LazyGroup(Group):
    """A group whose commands are named in `registry` and imported on first use."""

    registry: dict[str, LazyCommand] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.registry)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = self.registry.get(cmd_name)
        if entry is None:
            return None
        if cmd_name not in self.commands:
            command = typer.main.get_command(importlib.import_module(entry.module).app)
            command.short_help = entry.summary
            self.commands[cmd_name] = command
        return self.commands[cmd_name]

    def summaries(self, ctx: Any) -> list[tuple[str, str]]:
        return [(name, entry.summary) for name, entry in self.registry.items()]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        # typer suggests a close name from the commands built so far; here that is none, so say it from the registry.
        if args and args[0] not in self.registry and not args[0].startswith("-") and not ctx.resilient_parsing:
            close = difflib.get_close_matches(args[0], list(self.registry))
            suggestion = f" Did you mean {', '.join(repr(name) for name in close)}?" if close else ""
            ctx.fail(f"No such command {args[0]!r}.{suggestion}")
        return super().resolve_command(ctx, args)
