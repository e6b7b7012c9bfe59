"""Shared fixtures. No test touches real AWS or the developer's own settings: every test gets its own
AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, and all AWS_* credential variables are cleared."""
from __future__ import annotations

from dataclasses import dataclass

import socket

import boto3
import pytest

CONSUMER = "111111111111"
PROVIDER = "222222222222"
REGION = "us-west-2"

_CLEARED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "MOTO_ACCOUNT_ID",
            "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "XACCT_DB_PASSWORD")


@pytest.fixture(scope="session", autouse=True)
def loopback_only():
    """Fail any socket connect() to an address other than the loopback: no test may reach the network
    (moto in-process opens no sockets; the sandbox listens on 127.0.0.1)."""
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


@pytest.fixture(autouse=True)
def isolated_aws_env(tmp_path, monkeypatch):
    for var in _CLEARED:
        monkeypatch.delenv(var, raising=False)
    cfg, creds = tmp_path / "aws-config", tmp_path / "aws-credentials"
    cfg.write_text(
        "[profile base]\nregion = us-west-2\n\n"
        f"[profile consumer]\nrole_arn = arn:aws:iam::{CONSUMER}:role/xacct-test\nsource_profile = base\nregion = us-west-2\n\n"
        f"[profile provider]\nrole_arn = arn:aws:iam::{PROVIDER}:role/xacct-test\nsource_profile = base\nregion = us-west-2\n\n"
        f"[profile provider2]\nrole_arn = arn:aws:iam::{CONSUMER}:role/xacct-test\nsource_profile = base\nregion = us-west-2\n"
    )
    creds.write_text("[base]\naws_access_key_id = AKIAXACCTTESTBASE000\naws_secret_access_key = test-secret-not-real\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def moto_aws():
    from moto import mock_aws

    with mock_aws(config={"core": {"mock_credentials": False}}):
        yield


@dataclass
class World:
    consumer: boto3.Session
    provider: boto3.Session
    vpc_id: str
    vpc_cidr: str
    subnet_ids: tuple[str, ...]
    cluster_id: str
    cluster_arn: str

    def setup_args(self, *extra: str, name: str = "default") -> list[str]:
        return ["setup", "--consumer-profile", "consumer", "--provider-profile", "provider", "--cluster", self.cluster_id,
                "--vpc", self.vpc_id, "--subnets", ",".join(self.subnet_ids), "--name", name, *extra]


def seed(consumer: boto3.Session, provider: boto3.Session, *, data_api_on: bool = False) -> World:
    ec2 = consumer.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-west-2{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    )
    rds = provider.client("rds")
    c = rds.create_db_cluster(DBClusterIdentifier="orders-aurora", Engine="aurora-postgresql", EngineVersion="11.13",
                              EngineMode="serverless", MasterUsername="postgres", MasterUserPassword="seed-password-1",
                              DatabaseName="orders", EnableHttpEndpoint=data_api_on)["DBCluster"]
    return World(consumer, provider, vpc, "10.20.0.0/16", subnets, c["DBClusterIdentifier"], c["DBClusterArn"])


@pytest.fixture
def sessions(moto_aws):
    consumer = boto3.Session(profile_name="consumer")
    provider = boto3.Session(profile_name="provider")
    assert consumer.client("sts").get_caller_identity()["Account"] == CONSUMER
    assert provider.client("sts").get_caller_identity()["Account"] == PROVIDER
    return consumer, provider


@pytest.fixture
def world(sessions) -> World:
    return seed(*sessions)


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv("XACCT_DB_PASSWORD", "s3cret-Passw0rd-never-logged")
    return "s3cret-Passw0rd-never-logged"
