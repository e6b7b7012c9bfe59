"""At COLUMNS=80 the trial found stderr (and stdout) lines wider than the terminal: setup's hand-off, verify's OK line,
the Ctrl-C message. Prose wraps at spaces; an id or ARN longer than 80 may stand alone on its line, whole."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

# The Ctrl-C as a terminal sends it, mid-setup (the runner defers it to the next call boundary).
from tests.reliability.test_interrupt import INTERRUPT_AT, send_sigint_at, sigint_guard  # noqa: F401 (fixture)
from tests.helpers.hooks import CallHooks
from tests.ux.test_new_user_day import too_wide
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_setup_verify_and_ctrl_c_fit_80_columns(world, password, monkeypatch, sigint_guard):  # noqa: F811
    monkeypatch.setenv("COLUMNS", "80")
    hooks = CallHooks(after=send_sigint_at(INTERRUPT_AT)).install(monkeypatch)
    res = invoke(world.setup_args("--enable-data-api", "--yes", name="orders"))
    assert res.exit_code == 130, res.output
    assert "run the same command again" in flat(res.stderr).lower()  # the interrupted run's message, whole
    assert not too_wide(res.stderr), too_wide(res.stderr)
    hooks.after = None

    res = invoke(world.setup_args("--enable-data-api", "--yes", name="orders"))  # resumed: the hand-off follows
    assert res.exit_code == 0, res.output
    assert "Everything it needs: `xacct connect --name orders`." in flat(res.stderr)
    assert not too_wide(res.stderr), too_wide(res.stderr)

    res = invoke(["verify", "--name", "orders"])
    assert res.exit_code == 0, res.output
    assert flat(res.stdout).startswith("OK: ") and "row(s)." in flat(res.stdout)
    assert not too_wide(res.stdout) and not too_wide(res.stderr), (too_wide(res.stdout), too_wide(res.stderr))


def test_errors_fit_80_columns_and_keep_each_path_whole(world, password, monkeypatch, tmp_path):
    """Errors were printed as one line (180 to 714 characters in the trial). They wrap at spaces now: a path longer
    than the line stands alone on it, whole, so it can still be copied."""
    monkeypatch.setenv("COLUMNS", "80")
    deep = tmp_path / ("a-folder-with-a-long-name-" * 3) / "nested"
    deep.mkdir(parents=True)
    state = deep / "typo.json"
    for args in (["teardown", "--name", "typo", "--yes"], ["teardown", "--state", str(state), "--yes"]):
        res = invoke(args)
        assert res.exit_code == 2, res.output
        assert "Error: No deployment named 'typo'" in flat(res.output), res.output
        assert not too_wide(res.output), too_wide(res.output)
    assert len(str(deep)) > 80 and any(str(deep) in line for line in res.output.splitlines())  # whole on its line
