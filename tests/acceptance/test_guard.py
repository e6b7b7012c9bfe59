"""The opt-in guard: without XACCT_ACC nothing the acceptance suite sends leaves 127.0.0.1; with XACCT_ACC but not
everything real AWS needs, the suite stops before any request and says what is missing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.target import (CONSUMER_VAR, OPT_IN, PROVIDER_VAR, REGION_VAR, BeyondLoopback,
                                     OptInIncomplete, Target, opted_in)

REPO = Path(__file__).resolve().parents[2]
COMPLETE = {OPT_IN: "1", CONSUMER_VAR: "acme-consumer", PROVIDER_VAR: "acme-provider", REGION_VAR: "eu-west-1"}


def test_no_variable_means_the_sandbox():
    assert opted_in({}) is None
    assert opted_in({OPT_IN: "0", CONSUMER_VAR: "acme-consumer"}) is None
    assert opted_in({**COMPLETE, OPT_IN: ""}) is None


def test_the_opt_in_names_the_profiles_and_the_region():
    assert opted_in(COMPLETE) == {"consumer": "acme-consumer", "provider": "acme-provider", "region": "eu-west-1"}


@pytest.mark.parametrize("missing", [(REGION_VAR,), (CONSUMER_VAR, PROVIDER_VAR),
                                     (CONSUMER_VAR, PROVIDER_VAR, REGION_VAR)])
def test_an_incomplete_opt_in_names_what_is_missing(missing):
    env = {k: v for k, v in COMPLETE.items() if k not in missing}
    with pytest.raises(OptInIncomplete) as caught:
        opted_in(env)
    message = str(caught.value)
    assert all(var in message for var in missing) and "docs/aws-acceptance.md" in message
    named_missing = message.split(" but ")[1].split(" not set")[0]
    assert all(var not in named_missing for var in set(COMPLETE) - set(missing) - {OPT_IN})


def _run(module: str, env: dict, *args: str, answer: str = "") -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "XACCT_"))}
    return subprocess.run([sys.executable, "-m", module, *args], env={**clean, **env}, cwd=REPO, capture_output=True,
                          text=True, timeout=60, input=answer)


def test_on_aws_the_command_shows_what_it_creates_the_time_and_the_cost_and_asks(tmp_path):
    """Answered no: nothing is created (no profile even exists here; the plan needs no request)."""
    env = {**COMPLETE, "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    res = _run("tests.acceptance", env, answer="n\n")
    assert res.returncode == 1, res.stdout + res.stderr
    for expected in ("acme-consumer", "acme-provider", "eu-west-1", "Aurora Serverless v2", "2 VPCs",
                     "Expected time", "estimate ≈ $", "[y/N]", "Nothing was created."):
        assert expected in res.stdout, (expected, res.stdout)
    assert "Traceback" not in res.stderr


def test_the_documented_command_stops_on_an_incomplete_opt_in():
    """`make acceptance` with XACCT_ACC=1 but no region: exit 2, the message, no traceback, no world planned."""
    res = _run("tests.acceptance", {OPT_IN: "1", CONSUMER_VAR: "a", PROVIDER_VAR: "b"}, "--yes")
    assert res.returncode == 2, res.stdout + res.stderr
    assert REGION_VAR in res.stderr and "Traceback" not in res.stderr and "creates" not in res.stdout


def test_the_sweeper_needs_a_target_that_outlives_it():
    res = _run("tests.acceptance.sweeper", {}, "--all", "--yes")
    assert res.returncode == 2 and "XACCT_ACC_SANDBOX" in res.stderr and "Traceback" not in res.stderr


def _target(tmp_path: Path, endpoint: str, aws: bool = False) -> Target:
    base = tmp_path / "base-config"
    base.write_text(f"[profile admin]\nregion = us-east-1\nendpoint_url = {endpoint}\n")
    creds = tmp_path / "credentials"
    creds.write_text("[admin]\naws_access_key_id = AKIAEXAMPLEEXAMPLE00\naws_secret_access_key = not-a-secret\n")
    return Target(aws, "us-east-1", "admin", "admin", base, creds, tmp_path / "work", endpoint)


def test_the_suites_sessions_refuse_anything_but_the_loopback(tmp_path):
    """A profile naming AWS's own endpoint, without the opt-in: the request is refused before it is sent (the
    session-wide socket guard of tests/conftest.py is never reached: the error is the suite's own)."""
    target = _target(tmp_path, "https://sts.us-east-1.amazonaws.com")
    with pytest.raises(BeyondLoopback, match="sts.us-east-1.amazonaws.com"):
        target.session("admin").client("sts").get_caller_identity()
    with pytest.raises(BeyondLoopback, match="endpoint_url"):
        target.cli_env()  # nor does an xacct process get such a profile


def test_the_loopback_passes_the_guard(tmp_path):
    """Not vacuous: the same session on 127.0.0.1 sends (to a port nothing listens on: a connection error, not the
    guard's refusal)."""
    from botocore.exceptions import EndpointConnectionError

    target = _target(tmp_path, "http://127.0.0.1:9")
    client = target.session("admin").client("sts", config=__import__("botocore.config").config.Config(
        retries={"max_attempts": 1}, connect_timeout=1))
    with pytest.raises(EndpointConnectionError):
        client.get_caller_identity()
    assert target.cli_env()["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"


def test_the_sandbox_target_must_be_on_the_loopback(tmp_path):
    from types import SimpleNamespace

    info = SimpleNamespace(endpoint_url="http://10.0.0.5:5000", region="us-west-2", consumer_profile="c",
                           provider_profile="p", config_file=tmp_path / "c", credentials_file=tmp_path / "k")
    with pytest.raises(BeyondLoopback):
        Target.sandbox(info, tmp_path)
