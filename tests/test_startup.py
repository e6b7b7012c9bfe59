"""What a process imports before its first request, and the option values typer hands over without pydantic.

The figures are in docs/benchmarks.md (`make bench`); these tests only pin what each kind of run imports, in a fresh
interpreter, so a new top-level import shows up here rather than as a slower benchmark.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from xacct_dataapi.cli import option_values
from xacct_dataapi.cli import cli

HEAVY = ("boto3", "botocore", "rich.console", "pydantic", "moto")


def imported_by(argv: list[str], cwd: Path) -> tuple[int, set[str]]:
    """Run `xacct ARGV` in a fresh interpreter as the console script does (cli.run, without cli.main's exit); return
    its exit code and which of HEAVY it imported."""
    code = (
        "import json, sys\n"
        "from xacct_dataapi.cli import run\n"
        f"rc = run({argv!r})\n"
        f"heavy = sorted(h for h in {HEAVY!r} if h in sys.modules)\n"
        "print(json.dumps([rc, heavy]), file=sys.__stderr__)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "AWS_CONFIG_FILE": str(cwd / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "credentials"), "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    rc, heavy = json.loads(done.stderr.strip().splitlines()[-1])
    return rc, set(heavy)


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["setup", "--help"], ["setup", "--no-such-option"],
                                  ["status", "--wait"]])
def test_help_version_and_usage_errors_import_nothing_heavy(tmp_path, argv):
    rc, heavy = imported_by(argv, tmp_path)
    assert rc in (0, 2)
    assert heavy == set()


def test_a_command_with_options_does_not_import_pydantic(tmp_path):
    # Every option kind xacct has: str, Path, int, float, bool, list[str]. No deployment of that name exists, so the
    # command stops after parsing (exit 2) having imported the use cases (boto3) but not pydantic.
    rc, heavy = imported_by(["setup", "--name", "nope", "--state", str(tmp_path / "s.json"), "--key-deletion-days",
                             "8", "--enable-data-api", "--secret-reader", "arn:aws:iam::111111111111:role/r", "--dry-run"],
                            tmp_path)
    assert rc == 2
    assert "pydantic" not in heavy
    rc, heavy = imported_by(["verify", "--name", "nope", "--wait-timeout", "5"], tmp_path)
    assert rc in (1, 2)
    assert "pydantic" not in heavy


def test_typer_has_the_internals_plain_coercion_relies_on():
    # If a typer release moves them, use_plain_coercion() changes nothing (typer's own coercion stays): correct but
    # ~80 ms slower. This test says so instead of the benchmark.
    assert option_values.use_plain_coercion() is True
    assert option_values.use_plain_coercion() is True  # idempotent: installed once


@pytest.fixture
def plain_cli():
    option_values.use_plain_coercion()
    return CliRunner()


@pytest.mark.parametrize("argv, message", [
    (["setup", "--key-deletion-days", "abc"], "Invalid value for '--key-deletion-days': 'abc' is not a whole number"),
    (["setup", "--key-deletion-days", "7.5"], "'7.5' is not a whole number"),
    (["verify", "--wait-timeout", "0.5"], "'0.5' is below the minimum, 1."),
    (["verify", "--wait-timeout", "121"], "'121' is above the maximum, 120."),
    (["setup", "--key-deletion-days", "\uff18"], "'\uff18' is not a whole number."),  # a full-width digit
    (["verify", "--wait-timeout", "\uff15"], "'\uff15' is not a number."),
    (["verify", "--wait-timeout", "x"], "'x' is not a number."),
    (["verify", "--wait-timeout", "inf"], "'inf' is not a finite number."),
    (["sandbox", "up", "--port", "http"], "'http' is not a whole number."),
])
def test_a_bad_option_value_is_a_usage_error_naming_the_value(plain_cli, argv, message):
    result = plain_cli.invoke(cli, argv)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()), result.output
    error = next(line for line in result.output.splitlines() if line.startswith("Error:"))
    assert len(error) <= 80, error


def test_a_path_option_keeps_typers_checks(tmp_path):
    from typer.models import OptionInfo

    must_exist = OptionInfo(exists=True)
    convert = option_values.converter_for(Path, must_exist)
    with pytest.raises(option_values.OptionValueError, match="does not exist"):
        convert(str(tmp_path / "missing.json"), must_exist)
    no_dirs = OptionInfo(dir_okay=False)
    with pytest.raises(option_values.OptionValueError, match="is a directory"):
        convert(str(tmp_path), no_dirs)


@pytest.mark.parametrize("annotation, given, expected", [
    (str, "abc", "abc"), (str, b"abc", "abc"),
    (int, "8", 8), (int, " 30 ", 30), (int, 7, 7),
    (float, "2.5", 2.5), (float, "3", 3.0),
    (bool, True, True), (bool, "yes", True), (bool, "false", False), (bool, "", False),
    (Path, "a/b.json", Path("a/b.json")),
    (list[str], ("a", "b"), ["a", "b"]),
])
def test_plain_converters(annotation, given, expected):
    from typer.models import OptionInfo

    convert = option_values.converter_for(annotation, OptionInfo())
    assert convert is not None
    value = convert(given, OptionInfo())
    assert value == expected and type(value) is type(expected)


def test_what_plain_coercion_leaves_to_typer():
    from enum import Enum

    from typer.models import OptionInfo

    class Colour(Enum):
        RED = "red"

    assert option_values.converter_for(Colour, OptionInfo()) is None
    assert option_values.converter_for(int, OptionInfo(clamp=True)) is None
    assert option_values.converter_for(str, OptionInfo(parser=str.upper)) is None
    assert option_values.converter_for(bool, OptionInfo()) is not None


def test_main_ends_in_an_ordinary_interpreter_exit(tmp_path):
    # No os._exit: the command's code leaves through SystemExit, so the interpreter runs atexit handlers, waits for
    # non-daemon threads and flushes the streams itself. What main does for speed is gc.freeze() (public API): the
    # shutdown's collections skip what the run made (docs/benchmarks.md, Exit).
    code = (
        "import atexit, pathlib, sys, threading, time\n"
        "from xacct_dataapi.cli import main\n"
        f"out = pathlib.Path({str(tmp_path)!r})\n"
        "import gc\n"
        "atexit.register(lambda: (out / 'atexit').write_text(f'ran, {gc.get_freeze_count() > 0}'))\n"
        "def late():\n    time.sleep(0.3)\n    (out / 'thread').write_text('done')\n"
        "threading.Thread(target=late).start()\n"
        "sys.stdout.write('buffered, no newline')\n"
        "sys.argv = ['xacct', 'setup', '--key-deletion-days', 'x']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    (out / 'code').write_text(str(e.code))\n    raise\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and (tmp_path / "code").read_text() == "2"
    assert done.stdout == "buffered, no newline"
    assert (tmp_path / "atexit").read_text() == "ran, True"  # main froze what the shutdown's collections skip
    assert (tmp_path / "thread").read_text() == "done"


def test_the_console_script_exits_with_the_commands_code(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "COLUMNS": "80"}
    script = Path(sys.executable).with_name("xacct")
    usage = subprocess.run([str(script), "setup", "--key-deletion-days", "x"], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=60)
    assert usage.returncode == 2 and "'x' is not a whole number" in usage.stderr
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=env, cwd=tmp_path,
                             timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("xacct ")


@pytest.mark.parametrize("argv, modules", [
    (["--help"], set()), (["--version"], set()), ([], set()), (["setu"], set()),
    (["status", "--help"], {"status"}), (["status", "--name", "x"], {"status"}),
    (["force-unlock", "--help"], {"force_unlock"}), (["sandbox", "up", "--help"], {"sandbox"}),
], ids=lambda a: " ".join(a) if isinstance(a, list) else None)
def test_a_line_imports_only_its_commands_module(tmp_path, argv, modules):
    # The lazy group: `xacct --help` lists the commands from their registry without importing one.
    code = (
        "import json, sys\n"
        "from xacct_dataapi.cli import run\n"
        f"rc = run({argv!r})\n"
        "print(json.dumps(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('xacct_dataapi.cli.'))),"
        " file=sys.__stderr__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "80"})
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert loaded - {"groups", "options", "option_values"} == modules


def test_every_registered_command_is_its_modules_command():
    from xacct_dataapi.cli import COMMANDS
    from xacct_dataapi.cli.groups import LazyGroup

    group = typer.main.get_command(cli)
    assert isinstance(group, LazyGroup)
    ctx = group.make_context("xacct", ["--version"], resilient_parsing=True)
    for name in COMMANDS:
        assert group.get_command(ctx, name).name == name
    assert group.get_command(ctx, "nope") is None


def test_a_commands_process_collects_garbage_rarely(tmp_path):
    # cli.main raises the collector's thresholds before the command runs (GC_THRESHOLDS: the young collections during
    # model parsing cost ~0.05-0.1 s of CPU before the first request); cycles are still collected.
    code = ("import gc; from xacct_dataapi import cli\n"
            "def run():\n    print(gc.get_threshold(), gc.isenabled(), flush=True)\n    return 0\n"
            "cli.run = run\ncli.main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    from xacct_dataapi import GC_THRESHOLDS

    assert done.returncode == 0 and done.stdout.strip() == f"{GC_THRESHOLDS} True"
    assert GC_THRESHOLDS[0] > 700
