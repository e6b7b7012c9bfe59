"""Least-privilege operators in-process: the sandbox's authorization (xacct_dataapi/sandbox/authz) decides every
request inside mock_aws, as it does on the sandbox's server, and the profiles `consumer` / `provider` (what the tests
pass xacct) become operators whose only policies are `xacct permissions --side SIDE --for all` for the world's
accounts, region, cluster and VPC (sandbox/operators.py, the same code the sandbox seeds its operators with).
world.consumer / world.provider become each account's administrator (a user with `*` on `*`), for set-up and
inspection. A module opts in with `from tests.helpers.operators import world_of_operators  # noqa: F401`, which
overrides the `world` fixture for that module."""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import boto3
import pytest

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION, TEST_ADMIN_USER
from tests.helpers.world import World

ADMIN = TEST_ADMIN_USER


def _admin_session(bootstrap: boto3.Session) -> boto3.Session:
    iam = bootstrap.client("iam")
    iam.create_user(UserName=ADMIN)
    iam.put_user_policy(UserName=ADMIN, PolicyName="admin", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=ADMIN)["AccessKey"]
    return boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                         region_name=REGION)


def grant(world: World, *, clusters: tuple[str, ...] = (), vpc: str | None = None, vpcs: tuple[str, ...] = (),
          **adopted: str) -> None:
    """Give the operators `xacct permissions --for all` again, as an administrator would for more than the world's
    cluster and VPC: the generated policy for each of `clusters` (default: the world's) in `vpc` (default: the
    world's), or in all of `vpcs` (`xacct permissions --vpc A,B`), every statement once (a repeated Sid numbered, IAM
    wants them unique within a policy); `adopted`: consumer_role= / consumer_user= / role_arn= / secret_arn=, as `xacct permissions
    --consumer-role / --consumer-user / --role-arn / --secret-arn` adds them."""
    from xacct_dataapi.sandbox import operators

    for side, admin in (("consumer", world.consumer), ("provider", world.provider)):
        statements: list[dict] = []
        for cluster in clusters or (world.cluster_id,):
            doc = operators.generated_policy(side, region=REGION, provider=PROVIDER, consumer=CONSUMER,
                                             cluster=cluster, vpc=",".join(vpcs) or vpc or world.vpc_id, **adopted)
            for st in doc["Statement"]:
                if st in statements:
                    continue
                if any(other["Sid"] == st["Sid"] for other in statements):
                    st = {**st, "Sid": f"{st['Sid']}{len(statements)}"}
                statements.append(st)
        operators.attach(admin.client("iam"), {"Version": "2012-10-17", "Statement": statements})


@contextmanager
def least_privilege(world: World) -> Iterator[World]:
    """Enforce authorization in this process and run xacct's profiles as the operators, until the block ends."""
    from xacct_dataapi.sandbox import operators
    from xacct_dataapi.sandbox.authz import enforce

    enforce.install()  # not deciding yet: the administrators and operators are made without authorization
    try:
        world.consumer, world.provider = _admin_session(world.consumer), _admin_session(world.provider)
        keys = operators.create({"consumer": world.consumer.client("iam"), "provider": world.provider.client("iam")},
                                region=REGION, provider=PROVIDER, consumer=CONSUMER, cluster=world.cluster_id,
                                vpc=world.vpc_id)
        _write_operator_profiles(keys)
        enforce.enable(True)
        yield world
    finally:
        enforce.uninstall()


@contextmanager
def authorization_paused() -> Iterator[None]:
    """For a look no principal of the test may take on AWS (the secret's value: its policy denies all but the access
    role): the sandbox's authorization stands aside for the block."""
    from xacct_dataapi.sandbox.authz import enforce

    was = enforce.enabled()
    enforce.enable(False)
    try:
        yield
    finally:
        enforce.enable(was)


def _write_operator_profiles(keys: dict[str, tuple[str, str]]) -> None:
    """`consumer` / `provider` in the test's AWS config and credentials files (tests.helpers.profiles) become static
    profiles of the operators' keys; `base` and `provider2` stay as they were (their keys are unknown to IAM, so under
    authorization they are refused, as AWS refuses an unknown key)."""
    import configparser
    import os

    from xacct_dataapi.sandbox import operators

    cfg_path, creds_path = Path(os.environ["AWS_CONFIG_FILE"]), Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    config, credentials = configparser.ConfigParser(), configparser.ConfigParser()
    config.read(cfg_path)
    credentials.read(creds_path)
    for side, (_admin, operator_profile) in operators.PROFILES.items():
        key_id, secret = keys[operator_profile]
        config[f"profile {side}"] = {"region": REGION}
        credentials[side] = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    with cfg_path.open("w") as f:
        config.write(f)
    with creds_path.open("w") as f:
        credentials.write(f)


@pytest.fixture(name="world")
def world_of_operators(world: World) -> Iterator[World]:
    """conftest's world, with xacct's profiles least-privilege operators (least_privilege)."""
    with least_privilege(world) as operated:
        yield operated
