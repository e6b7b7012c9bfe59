"""What a client needs to use a running sandbox (`SandboxInfo`, also DIR/sandbox.json), the sandbox's fixed names
(accounts, region, profiles), and the botocore sessions and private files the sandbox's modules share.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONSUMER_ACCOUNT = "111111111111"
PROVIDER_ACCOUNT = "222222222222"
REGION = "us-west-2"
CONSUMER_PROFILE = "xacct-consumer"
PROVIDER_PROFILE = "xacct-provider"

ADMIN_USER = "xacct-sandbox-admin"
CLUSTER_ID = "xacct-sandbox-aurora"
DATABASE_NAME = "app"
VPC_CIDR = "10.20.0.0/16"
SUBNETS = (("us-west-2a", "10.20.1.0/24"), ("us-west-2b", "10.20.2.0/24"))
# "An application inside the VPC": its address in the first subnet (authz/private.py reads it from the URL).
APP_ADDRESS = "10.20.1.10"
# The operator profiles (operators.py): a user in each account whose only policies are `xacct permissions --for all`
# for the sandbox's accounts, cluster and VPC; the admin profiles above stay for set-up and inspection.
OPERATOR_CONSUMER_PROFILE = "xacct-operator-consumer"
OPERATOR_PROVIDER_PROFILE = "xacct-operator-provider"
CONFIG_NAME = "config"
CREDENTIALS_NAME = "credentials"


class SandboxError(Exception):
    """The sandbox could not be started, seeded or verified."""


@dataclass(frozen=True)
class SandboxInfo:
    """Everything a client needs to use a running sandbox (also saved as DIR/sandbox.json)."""

    endpoint_url: str
    dir: Path
    config_file: Path
    credentials_file: Path
    region: str
    consumer_account: str
    provider_account: str
    consumer_profile: str
    provider_profile: str
    vpc_id: str
    vpc_cidr: str
    subnet_ids: tuple[str, ...]
    cluster_id: str
    cluster_arn: str
    engine: str
    engine_mode: str = "provisioned"
    # The sandbox's PostgreSQL (aurora-postgresql only; database.py): its port on 127.0.0.1, the DB user seeded
    # in it and the file (0600) holding that user's password, which setup must put in the secret.
    db_port: int = 0
    db_user: str = ""
    db_password_file: str = ""
    # The least-privilege operators (operators.py): what `setup_command()` and the tests run xacct as.
    operator_consumer_profile: str = OPERATOR_CONSUMER_PROFILE
    operator_provider_profile: str = OPERATOR_PROVIDER_PROFILE
    # A team state location (`--state`, state_s3.py) in the consumer account, which both operators may use
    # (`xacct permissions --state-bucket`): empty for a sandbox seeded before it had one.
    team_state: str = ""

    def db_password(self) -> str:
        """The seeded DB user's password (what a DB admin would hand the operator for `xacct setup`)."""
        return Path(self.db_password_file).read_text().strip() if self.db_password_file else ""

    def env(self) -> dict[str, str]:
        """Environment variables that point an AWS SDK/CLI at the sandbox profiles.

        Region and endpoint come from the profiles themselves. Note that
        AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or MOTO_ACCOUNT_ID
        in the caller's environment can still override them; callers that build
        a child environment should drop those.
        """
        return {
            "AWS_CONFIG_FILE": str(Path(self.config_file).resolve()),
            "AWS_SHARED_CREDENTIALS_FILE": str(Path(self.credentials_file).resolve()),
        }

    def inside_vpc_env(self) -> dict[str, str]:
        """The environment of "an application inside the consumer VPC" (at APP_ADDRESS): the same profiles, with
        rds-data reached through the VPC (`/_vpc/VPC/ADDRESS`, authz/private.py), so its requests go through the VPC's
        rds-data endpoint when one has private DNS and carry aws:SourceVpce. botocore's service-specific
        AWS_ENDPOINT_URL_RDS_DATA beats the profile's endpoint_url."""
        return {**self.env(), "AWS_ENDPOINT_URL_RDS_DATA": f"{self.endpoint_url.rstrip('/')}/_vpc/{self.vpc_id}/{APP_ADDRESS}"}

    def setup_command(self, name: str | None = None, xacct: str = "xacct") -> str:
        """The ``xacct setup`` invocation that wires this sandbox's two accounts together, as the least-privilege
        operators (their policies are exactly `xacct permissions --for all`: operators.py); `xacct`: how to run it."""
        import shlex

        parts = [
            "setup",
            "--consumer-profile", self.operator_consumer_profile,
            "--provider-profile", self.operator_provider_profile,
            "--cluster", self.cluster_id,
            "--vpc", self.vpc_id,
            "--subnets", ",".join(self.subnet_ids),
            "--enable-data-api", *(("--name", name) if name else ()),
        ]  # fmt: skip
        return " ".join([xacct, *(shlex.quote(p) for p in parts)])

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "dir": str(self.dir),
            "config_file": str(self.config_file),
            "credentials_file": str(self.credentials_file),
            "region": self.region,
            "consumer_account": self.consumer_account,
            "provider_account": self.provider_account,
            "consumer_profile": self.consumer_profile,
            "provider_profile": self.provider_profile,
            "vpc_id": self.vpc_id,
            "vpc_cidr": self.vpc_cidr,
            "subnet_ids": list(self.subnet_ids),
            "cluster_id": self.cluster_id,
            "cluster_arn": self.cluster_arn,
            "engine": self.engine,
            "engine_mode": self.engine_mode,
            "db_port": self.db_port,
            "db_user": self.db_user,
            "db_password_file": self.db_password_file,
            "operator_consumer_profile": self.operator_consumer_profile,
            "operator_provider_profile": self.operator_provider_profile,
            "team_state": self.team_state,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SandboxInfo:
        """Inverse of ``to_json``; extra keys (``pid``, ``port``, ...) are ignored."""
        try:
            return cls(
                endpoint_url=str(d["endpoint_url"]),
                dir=Path(d["dir"]),
                config_file=Path(d["config_file"]),
                credentials_file=Path(d["credentials_file"]),
                region=str(d["region"]),
                consumer_account=str(d["consumer_account"]),
                provider_account=str(d["provider_account"]),
                consumer_profile=str(d["consumer_profile"]),
                provider_profile=str(d["provider_profile"]),
                vpc_id=str(d["vpc_id"]),
                vpc_cidr=str(d["vpc_cidr"]),
                subnet_ids=tuple(str(s) for s in d["subnet_ids"]),
                cluster_id=str(d["cluster_id"]),
                cluster_arn=str(d["cluster_arn"]),
                engine=str(d["engine"]),
                engine_mode=str(d.get("engine_mode", "provisioned")),
                db_port=int(d.get("db_port") or 0),
                db_user=str(d.get("db_user") or ""),
                db_password_file=str(d.get("db_password_file") or ""),
                operator_consumer_profile=str(d.get("operator_consumer_profile") or OPERATOR_CONSUMER_PROFILE),
                operator_provider_profile=str(d.get("operator_provider_profile") or OPERATOR_PROVIDER_PROFILE),
                team_state=str(d.get("team_state") or ""),
            )
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a sandbox info document: missing or bad field {e}") from e

    @property
    def port(self) -> int:
        from urllib.parse import urlparse

        return int(urlparse(self.endpoint_url).port or 80)



def client_config() -> Any:
    from botocore.config import Config

    # proxies={} (not None) disables environment proxies for the 127.0.0.1 endpoint.
    return Config(
        proxies={},
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 2, "mode": "standard"},
    )


def botocore_session(
    config_file: Path | None = None,
    credentials_file: Path | None = None,
    profile: str | None = None,
    loader_from: Any = None,
) -> Any:
    """A botocore session bound to the given files/profile, without touching os.environ.

    Instance variables beat the AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE / AWS_PROFILE
    environment variables, and an explicit profile drops the env-var credential provider.
    Sharing ``loader_from``'s data loader avoids re-reading service models (speed).
    """
    import botocore.session

    s = botocore.session.Session()
    if loader_from is not None:
        s.register_component("data_loader", loader_from.get_component("data_loader"))
    if config_file is not None:
        s.set_config_variable("config_file", str(config_file))
    if credentials_file is not None:
        s.set_config_variable("credentials_file", str(credentials_file))
    if profile is not None:
        s.set_config_variable("profile", profile)
    return s


def write_private(path: Path, text: str) -> None:
    """Atomically write ``text`` to ``path`` with mode 0600 (it holds access keys)."""
    from xacct_dataapi.state import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode("utf-8"))
