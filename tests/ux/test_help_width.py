"""`--help` at 80 columns: whole sentences, whole words (issue 25, item 3).

Every command's help is rendered at COLUMNS=80 as an operator's terminal shows it: no line is wider than 80, nothing
is cut with "...", and every word of the help text (a flag such as --consumer-profile, a path such as
docs/how-it-works.md, an id pattern such as xacct-<name>) comes out whole on one line, never split at a hyphen.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer

from xacct_dataapi.cli import COMMANDS, cli


def _command_lines() -> list[list[str]]:
    group = typer.main.get_command(cli)
    ctx = group.make_context("xacct", ["--version"], resilient_parsing=True)
    lines = [[]]
    for name in COMMANDS:
        command = group.get_command(ctx, name)
        lines.append([name])
        lines += [[name, sub] for sub in getattr(command, "commands", {})]
    return lines


def _help_words(argv: list[str]) -> list[str]:
    """Every word that the help of `xacct ARGV` is made of: the command's text and each option's."""
    command = typer.main.get_command(cli)
    for name in argv:
        command = command.get_command(command.make_context("xacct", ["--version"], resilient_parsing=True), name)
    texts = [command.help or ""] + [getattr(param, "help", None) or "" for param in command.params]
    return [word for text in texts for word in text.split()]


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    """Each line's help as `xacct ... --help` prints it with COLUMNS=80 (one fresh process for all of them: typer's
    CliRunner forces its own width, 80, where a terminal of 80 columns gets click's 78)."""
    code = (
        "import contextlib, io, json, sys\n"
        "from xacct_dataapi.cli import run\n"
        "helps = {}\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        code = run([*argv, '--help'])\n"
        "    helps[' '.join(argv)] = out.getvalue() if code == 0 else f'exit {code}'\n"
        "print(json.dumps(helps))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, json.dumps(_command_lines())], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "COLUMNS": "80"}, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("argv", _command_lines(), ids=lambda a: " ".join(a) or "xacct")
def test_help_fits_80_columns_in_whole_sentences_and_words(helps, argv):
    text = helps[" ".join(argv)]
    assert [line for line in text.splitlines() if len(line) > 80] == []
    described = text.split("\n", 1)[1]  # the usage line's "[ARGS]..." is click's notation for "more arguments"
    assert "..." not in described and "…" not in described
    words = {word for line in text.splitlines() for word in line.split()}
    assert [word for word in _help_words(argv) if word not in words] == []


def test_the_command_list_shows_one_whole_sentence_per_command(helps):
    text = helps[""]
    listed = text.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == list(COMMANDS)
    for line, (name, entry) in zip(listed, COMMANDS.items()):
        assert line.split(None, 1)[1] == entry.summary  # on one line, whole
        assert entry.summary.endswith(".") and entry.summary.count(". ") == 0


def test_a_hyphenated_word_at_the_margin_stays_on_one_line(helps):
    # "Read-only." in status's help falls at the margin at 80 columns; click's wrapper broke it after the hyphen.
    text = helps["status"]
    assert "Read-only." in text.split()
    assert not [line for line in text.splitlines() if line.rstrip().endswith("-")]
