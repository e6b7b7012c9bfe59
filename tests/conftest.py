"""Shared fixtures. No test touches real AWS or the developer's own settings: every test gets its own
AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, and all AWS_* credential variables are cleared."""
from __future__ import annotations

import socket

import pytest

from tests.helpers.profiles import isolate
from tests.helpers.speed import speed_up_aws
from tests.helpers.world import World, open_sessions, seed


@pytest.fixture(scope="session", autouse=True)
def options_coerced_as_the_installed_cli_does():
    """`xacct` (cli.main) coerces option values without pydantic (xacct_dataapi/cli/option_values.py); tests that invoke
    `cli` through CliRunner go through the same coercion."""
    from xacct_dataapi.cli.option_values import use_plain_coercion

    use_plain_coercion()


@pytest.fixture(scope="session", autouse=True)
def loopback_only():
    """Fail any socket connect() to an address other than the loopback: no test may reach the network
    (moto in-process opens no sockets; the sandbox listens on 127.0.0.1). Except when the maintainer opted in to the
    acceptance suite's real-AWS run (XACCT_ACC with both profiles and the region: docs/aws-acceptance.md), whose
    own sessions then carry the check (tests/acceptance/target.py)."""
    if real_aws_opt_in():
        yield
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(addr):
        host = addr[0] if isinstance(addr, tuple) else addr
        if host not in ("127.0.0.1", "::1", "localhost") and not isinstance(addr, (str, bytes)):
            raise AssertionError(f"test tried to reach the network: {addr!r}")

    def connect(self, addr):
        check(addr)
        return real_connect(self, addr)

    def connect_ex(self, addr):
        check(addr)
        return real_connect_ex(self, addr)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    try:
        yield
    finally:
        socket.socket.connect = real_connect
        socket.socket.connect_ex = real_connect_ex


def real_aws_opt_in() -> bool:
    import os

    from tests.acceptance.target import OptInIncomplete, opted_in

    try:
        return opted_in(os.environ) is not None
    except OptInIncomplete:
        return False  # the acceptance suite stops with the message; nothing else may reach AWS meanwhile


@pytest.fixture(autouse=True)
def isolated_aws_env(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    yield


@pytest.fixture(scope="module")
def fast_aws():
    """Opt-in, per module (`pytestmark = pytest.mark.usefixtures("fast_aws")`): tests.helpers.speed.speed_up_aws."""
    with pytest.MonkeyPatch.context() as mp:
        speed_up_aws(mp)
        yield


@pytest.fixture
def moto_aws():
    from moto import mock_aws

    from xacct_dataapi.sandbox import limits

    limits.install()  # AWS's limits and uniqueness rules, as the sandbox's server enforces them
    with mock_aws(config={"core": {"mock_credentials": False}}):
        yield


@pytest.fixture
def sessions(moto_aws):
    return open_sessions()


@pytest.fixture
def world(sessions) -> World:
    return seed(*sessions)


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv("XACCT_DB_PASSWORD", "s3cret-Passw0rd-never-logged")
    return "s3cret-Passw0rd-never-logged"
