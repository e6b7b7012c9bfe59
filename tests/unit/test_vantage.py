"""Where this shell reaches rds-data from, as far as xacct can tell: only the sandbox tells; on AWS it is unknown."""
from __future__ import annotations

import pytest

from xacct_dataapi.vantage import in_sandbox, outside_in_sandbox

VPC = "vpc-0123456789abcdef0"


@pytest.fixture(autouse=True)
def no_aws_settings(monkeypatch, tmp_path):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_RDS_DATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))


def test_on_aws_nothing_is_known():
    assert outside_in_sandbox(VPC) is False and in_sandbox(VPC) == ""


def test_the_sandbox_outside_every_vpc(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert outside_in_sandbox(VPC) is True and "outside the VPC" in in_sandbox(VPC)


def test_the_sandbox_inside_this_vpc_or_another(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", f"http://127.0.0.1:4566/_vpc/{VPC}/10.0.1.5")
    assert outside_in_sandbox(VPC) is False and "go through the endpoint" in in_sandbox(VPC)
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", "http://127.0.0.1:4566/_vpc/vpc-0fedcba9876543210/10.0.1.5")
    assert outside_in_sandbox(VPC) is True


def test_a_lookalike_path_on_another_host_is_not_the_sandbox(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", f"https://proxy.example.com/_vpc/{VPC}/10.0.1.5")
    assert outside_in_sandbox(VPC) is False
