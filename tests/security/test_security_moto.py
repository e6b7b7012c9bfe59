"""Issue 13 against moto: the key policy admits the access role (and an old consumer grant is drift a re-run
repairs), --secret-reader exempts principals from the secret's Deny, --require-private-path pins the access role's
rds-data statement to the deployment's endpoint."""
from __future__ import annotations

import json

import pytest

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from tests.helpers.pipeline import apply_setup, plan_for
from xacct_dataapi import policies
from xacct_dataapi import state as state_mod
from xacct_dataapi.config import Config, state_path_for
from xacct_dataapi.models import Action
from xacct_dataapi.status import status_report

pytestmark = pytest.mark.usefixtures("fast_aws")

READER = f"arn:aws:iam::{PROVIDER}:role/rotation-lambda"


def config(world, **kw) -> Config:
    return Config(name="sec", consumer_profile="consumer", provider_profile="provider", cluster=world.cluster_id,
                  vpc_id=world.vpc_id, subnet_ids=world.subnet_ids, enable_data_api=True, **kw).validate()


def deploy(world, password, **kw):
    cfg = config(world, **kw)
    path = state_path_for(cfg.name)
    ctx, plan = plan_for(cfg, password, path)
    apply_setup(ctx, plan, path, sleep=lambda s: None)
    return cfg, path, state_mod.load(path)


def test_private_path_and_secret_readers_reach_the_documents(world, password):
    cfg, path, state = deploy(world, password, require_private_path=True, secret_readers=(READER,))
    iam = world.provider.client("iam")
    perms = iam.get_role_policy(RoleName=cfg.names.access_role, PolicyName=cfg.names.access_role_policy)["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in policies.parse(perms)["Statement"]}
    endpoint_id = state.values["endpoint_id"]
    assert endpoint_id.startswith("vpce-")
    assert by_sid["RunDataApiStatements"]["Condition"] == {"StringEquals": {"aws:SourceVpce": endpoint_id}}
    # Only that statement: the Data API reads the secret and uses the key from AWS's side, not through the endpoint.
    assert "SourceVpce" not in json.dumps([by_sid["ReadDbCredentials"], by_sid["DecryptDbCredentials"]])
    secret = world.provider.client("secretsmanager").get_resource_policy(SecretId=state.values["secret_arn"])
    deny = [s for s in json.loads(secret["ResourcePolicy"])["Statement"] if s["Effect"] == "Deny"][0]
    assert deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [state.values["access_role_arn"], READER]
    # A second run sees everything in place.
    ctx, plan = plan_for(cfg, password, path)
    assert not plan.changes, [(s.key, s.reason) for s in plan.steps if s.calls]


def test_old_consumer_key_grant_is_drift_and_a_rerun_repairs_it(world, password):
    cfg, path, state = deploy(world, password)
    kms = world.provider.client("kms")
    old = {"Version": "2012-10-17", "Id": "xacct-key-policy", "Statement": [
        policies.key_policy(PROVIDER, "unused", REGION)["Statement"][0],
        {"Sid": "AllowConsumerDecryptViaSecretsManager", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{CONSUMER}:root"}, "Action": ["kms:Decrypt", "kms:DescribeKey"],
         "Resource": "*", "Condition": {
             "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com", "kms:CallerAccount": CONSUMER},
             "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{CONSUMER}:user/{cfg.names.consumer_user}"}}}]}
    kms.put_key_policy(KeyId=state.values["key_id"], PolicyName="default", Policy=json.dumps(old))

    ctx, plan = plan_for(cfg, password, path)
    report = status_report(plan, state_mod.load(path))
    step2 = next(s for s in report["steps"] if s["key"] == "key_policy")
    assert step2["status"] == "drifted"
    assert {d["sid"] for d in step2["drift"]} == {"AllowConsumerDecryptViaSecretsManager",
                                                   "AllowAccessRoleDecryptViaSecretsManager"}
    key_step = next(s for s in plan.steps if s.key == "key_policy")
    assert key_step.action is Action.REPAIR and [c.label for c in key_step.calls] == ["kms:put_key_policy"]

    apply_setup(ctx, plan, path, sleep=lambda s: None)
    written = json.loads(kms.get_key_policy(KeyId=state.values["key_id"], PolicyName="default")["Policy"])
    assert written == policies.key_policy(PROVIDER, state.values["access_role_arn"], REGION)
    assert CONSUMER not in json.dumps(written)
