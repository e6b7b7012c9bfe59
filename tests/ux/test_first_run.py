"""The first run: --version, shell completion, the demo's result as a table (never a Python repr)."""
from __future__ import annotations

import io
from importlib.metadata import version

from rich.console import Console
from typer.testing import CliRunner

from xacct_dataapi import __version__, render
from xacct_dataapi.cli import cli


def test_version_matches_the_installed_package():
    res = CliRunner().invoke(cli, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"xacct {__version__}" == f"xacct {version('xacct')}"


def test_shell_completion_is_offered_and_completes_commands_and_options(monkeypatch):
    res = CliRunner().invoke(cli, ["--help"])
    assert "--install-completion" in res.output and "--show-completion" in res.output
    monkeypatch.setenv("_XACCT_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "xacct sta")
    monkeypatch.setenv("COMP_CWORD", "1")
    res = CliRunner().invoke(cli, [], prog_name="xacct")
    assert res.output.split() == ["status"]


def test_demo_rows_are_a_table_and_a_plain_cell():
    columns, rows = ["greeting"], [["hello from the provider account"]]
    assert render.rows_text(columns, rows) == "1 row: greeting = hello from the provider account"
    assert render.rows_text(["n"], [[1], [None]]) == "2 rows: n = 1 …"
    console = Console(file=io.StringIO(), width=80, record=True)
    console.print(render.rows_table(columns, rows))
    text = console.export_text()
    assert "greeting" in text and "hello from the provider account" in text
    assert "[[" not in text and "stringValue" not in text
