"""verify in the moto world: who it acts as, what it sends, what it retries and what it does not."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.helpers.accounts import CONSUMER, STATE, USER_NAME
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi import verify as verify_mod
from xacct_dataapi.aws import Sessions
from xacct_dataapi.errors import AwsError
from xacct_dataapi.state import State, load
from xacct_dataapi.waiting import Timing

pytestmark = pytest.mark.usefixtures("fast_aws")


def _setup(world):
    from typer.testing import CliRunner

    from xacct_dataapi.cli import cli

    res = CliRunner().invoke(cli, world.setup_args("--enable-data-api", "--yes"), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return load(Path(STATE))


def _data_api_answers(monkeypatch, *errors: str) -> list[dict]:
    """ExecuteStatement raises these error codes in turn, then reaches moto; returns every request's parameters."""
    sent: list[dict] = []
    queue = list(errors)
    real = BaseClient._make_api_call

    def call(self, operation, params):
        if operation == "ExecuteStatement":
            sent.append(dict(params))
            if queue:
                code = queue.pop(0)
                raise ClientError({"Error": {"Code": code, "Message": f"{code} from the test"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    return sent


def _verify(state, **kw):
    aws = Sessions.from_profiles("consumer", "provider", None)
    return verify_mod.verify(state, aws, timing=Timing(sleep=lambda s: None), **kw)


def test_propagation_errors_are_retried_and_database_is_sent_every_time(world, password, monkeypatch):
    state = _setup(world)
    assert state.values["database"] == "orders"  # the cluster's DatabaseName, as in the secret's dbname
    sent = _data_api_answers(monkeypatch, "ForbiddenException", "SecretsErrorException", "AccessDeniedException")
    result = _verify(state)
    assert [p["database"] for p in sent] == ["orders"] * 4
    assert result.principal == f"arn:aws:iam::{CONSUMER}:user/{USER_NAME}" and result.database == "orders"
    assert world.consumer.client("iam").list_access_keys(UserName=USER_NAME)["AccessKeyMetadata"] == []


def test_a_data_api_just_switched_on_or_resuming_is_waited_for(world, password, monkeypatch):
    """Just after EnableHttpEndpoint, and while a Serverless v2 cluster resumes, rds-data answers these for a moment."""
    state = _setup(world)
    sent = _data_api_answers(monkeypatch, "HttpEndpointNotEnabledException", "DatabaseUnavailableException",
                             "DatabaseResumingException")
    assert _verify(state).database == "orders"
    assert len(sent) == 4


def test_other_errors_fail_at_once_naming_the_hop(world, password, monkeypatch):
    state = _setup(world)
    sent = _data_api_answers(monkeypatch, "BadRequestException")
    with pytest.raises(AwsError, match="at the Data API call: BadRequestException") as exc:
        _verify(state)
    assert len(sent) == 1 and "step 5" in exc.value.hint


def test_a_secret_that_stays_unreadable_times_out_as_the_secret_hop(world, password, monkeypatch):
    state = _setup(world)
    _data_api_answers(monkeypatch, *["SecretsErrorException"] * 50)
    clock = iter(range(0, 10_000, 7))
    with pytest.raises(AwsError, match="the Data API's secret") as exc:
        verify_mod.verify(state, Sessions.from_profiles("consumer", "provider", None), wait_timeout=30,
                          timing=Timing(sleep=lambda s: None, clock=lambda: next(clock)))
    assert "Timed out after 30s" in exc.value.message and "steps 3-5" in exc.value.hint


def _saved_minutes_ago(state, minutes: float):
    state.updated_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60 * minutes))
    return state


def test_a_denial_long_after_the_last_setup_is_final_at_once(world, password, monkeypatch):
    """IAM has long propagated what setup wrote: AccessDenied is the answer (a statement removed by hand, a call from
    outside the VPC of a --require-private-path deployment), not a reason to wait two minutes."""
    state = _saved_minutes_ago(_setup(world), 10)
    sent = _data_api_answers(monkeypatch, *["AccessDeniedException"] * 50)
    clock = iter(range(0, 10_000, 1))  # each read of the clock 1 s later: 15 s of grace, then final
    with pytest.raises(AwsError, match="at the Data API call: AccessDeniedException: AccessDeniedException from the test") as exc:
        verify_mod.verify(state, Sessions.from_profiles("consumer", "provider", None),
                          timing=Timing(sleep=lambda s: None, clock=lambda: next(clock)))
    # Retried only through the grace a skewed clock needs (PROPAGATION_GRACE), not the two minutes of propagation.
    assert 1 < len(sent) < 10 and "Timed out" not in exc.value.message and "step 5" in exc.value.hint


def test_a_cluster_resuming_long_after_the_last_setup_is_still_waited_for(world, password, monkeypatch):
    state = _saved_minutes_ago(_setup(world), 10)
    sent = _data_api_answers(monkeypatch, "DatabaseResumingException", "DatabaseResumingException")
    assert _verify(state).database == "orders" and len(sent) == 3


@pytest.mark.parametrize("minutes, left", [(0, 120.0), (1, 60.0), (2, 0.0), (30, 0.0), (-5, 120.0)])
def test_propagation_left_counts_from_the_last_save(minutes, left):
    state = _saved_minutes_ago(State(name="orders"), minutes)
    assert verify_mod.propagation_left(state) == pytest.approx(left, abs=2)


def test_propagation_left_is_the_whole_window_when_the_age_is_unknown():
    assert verify_mod.propagation_left(State(name="orders")) == verify_mod.PROPAGATION_TIMEOUT


@pytest.mark.parametrize("identity, principal, same", [
    ("arn:aws:iam::1:user/u", "arn:aws:iam::1:user/u", True),
    ("arn:aws:sts::1:assumed-role/app/s", "arn:aws:iam::1:role/path/app", True),
    ("arn:aws:sts::1:assumed-role/app/s", "arn:aws:iam::2:role/app", False),
    ("arn:aws:sts::1:assumed-role/admin/s", "arn:aws:iam::1:role/app", False),
    ("arn:aws:iam::1:user/admin", "arn:aws:iam::1:user/u", False),
])
def test_same_principal(identity, principal, same):
    assert verify_mod.same_principal(identity, principal) is same
