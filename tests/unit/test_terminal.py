"""The one mapping from a command's failure to its message and exit code (xacct_dataapi/terminal.py)."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import typer
from botocore.exceptions import EndpointConnectionError
from rich.console import Console

from xacct_dataapi.app import SetupResult
from xacct_dataapi.cli.setup import report_setup
from xacct_dataapi.errors import AWS_FAILURE, INTERRUPTED, USAGE, StepFailed, UsageError
from xacct_dataapi.models import Action, Plan, StepPlan
from xacct_dataapi.state import State
from xacct_dataapi.terminal import Terminal, run_command


def fails_with(exc: BaseException):
    def command():
        raise exc

    return command


@pytest.mark.parametrize("exc, code, message", [
    (UsageError("--vpc 'x' is not a VPC id.", "Pass --vpc vpc-0abc1234."), USAGE, "Error: --vpc 'x' is not a VPC id. Pass"),
    (StepFailed(3, "Access role", "iam:CreateRole", RuntimeError("boom")), AWS_FAILURE, "Error: Step 3 (Access role) failed"),
    (KeyboardInterrupt(), INTERRUPTED, "Interrupted with no change to AWS in flight. Re-run the same command"),
    (typer.Abort(), INTERRUPTED, "Interrupted with no change to AWS in flight. Re-run the same command"),
    (EndpointConnectionError(endpoint_url="https://rds.example"), AWS_FAILURE, "AWS could not be reached"),
    (IsADirectoryError(21, "Is a directory", "/tmp/state"), USAGE, "Cannot use /tmp/state: Is a directory."),
])
def test_each_failure_has_one_exit_code_and_message(capsys, exc, code, message):
    with pytest.raises(typer.Exit) as info:
        run_command(False, fails_with(exc))
    assert info.value.exit_code == code
    err = capsys.readouterr().err
    assert message in " ".join(err.split())
    assert "Traceback" not in err


def test_debug_reraises():
    with pytest.raises(KeyboardInterrupt):
        run_command(True, fails_with(KeyboardInterrupt()))


def test_a_command_returns_its_exit_code():
    run_command(False, lambda: None)
    run_command(False, lambda: 0)
    with pytest.raises(typer.Exit) as info:
        run_command(False, lambda: 1)
    assert info.value.exit_code == 1


def test_output_must_be_text_or_json():
    with pytest.raises(UsageError, match="--output 'yaml'"):
        Terminal.open("yaml")


def test_a_failing_check_is_reported_with_its_own_step_number_and_title():
    check = StepPlan(6, "nacl", "Network ACLs allow HTTPS", Action.CHECK, "a network ACL blocks HTTPS",
                     problems=["acl-1 denies tcp/443 inbound"])
    result = SetupResult(Plan("setup", [check]), State(name="default"), [], list(check.problems), 0.1)
    err = io.StringIO()
    ui = Terminal(out=Console(file=io.StringIO()), err=Console(file=err, width=200))
    report_setup(ui, result, Path("state.json"))
    assert "Step 6 (Network ACLs allow HTTPS) failed: acl-1 denies tcp/443 inbound" in err.getvalue()
    assert "Step 8" not in err.getvalue()


def test_an_internal_error_is_a_bug_with_its_own_exit_code_not_an_aws_failure(capsys):
    import typer

    from xacct_dataapi.errors import INTERNAL
    from xacct_dataapi.terminal import run_command

    def buggy():
        raise AssertionError("internal error: the plan refers to ${key_arn}, which no earlier call produced")

    with pytest.raises(typer.Exit) as info:
        run_command(False, buggy)
    assert info.value.exit_code == INTERNAL == 70
    err = capsys.readouterr().err
    assert "Internal error (a bug in xacct): AssertionError" in err and "--debug" in err
    assert "Traceback" not in err
    with pytest.raises(AssertionError):  # --debug shows the real traceback
        run_command(True, buggy)


def test_status_after_an_interrupted_teardown_points_to_teardown_not_setup():
    from xacct_dataapi import render

    step = {"number": 7, "key": "endpoint", "title": "Endpoint", "status": "missing", "reason": "", "detail": [],
            "resources": []}
    report = {"name": "orders", "region": "us-west-2", "accounts": {"consumer": "1", "provider": "2"}, "data_api": "on",
              "steps": [step], "last_error": {"step": 7, "message": "interrupted", "during": "teardown"}}
    console = Console(record=True, width=100)
    console.print(render.status_table(report))
    text = console.export_text()
    assert "xacct teardown --name orders" in text and "xacct setup" not in text


def test_an_endpoint_answering_non_aws_text_is_an_aws_side_failure_not_a_bug(capsys):
    from botocore.parsers import ResponseParserError

    with pytest.raises(typer.Exit) as info:
        run_command(False, fails_with(ResponseParserError("Unable to parse response: <!doctype html>")))
    assert info.value.exit_code == AWS_FAILURE
    assert "answered unexpectedly" in capsys.readouterr().err
