"""Teardown never deletes what a state file names on its word alone (issue 22, "teardown deletes whatever the state
file names"): every recorded row is checked against AWS (resource_types) before and right before its delete.

Each case tampers with deployment `orders`' state file so that rows point at resources xacct did not make for it:
hand-made ones, or another deployment's (`billing`, sharing the VPC's endpoint). Teardown must then exit 1 naming
them, delete or change none of them, and still tear down `orders`' own resources, found by name and tag.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli
from xacct_dataapi.config import Names

pytestmark = pytest.mark.usefixtures("fast_aws")

STATE = Path(".xacct/orders.json")
HAND = "handmade"
# Rows of orders' state that can point elsewhere; the endpoint and its group are shared with billing by design.
TAMPERABLE = ("kms_key", "kms_alias", "iam_role", "iam_role_policy", "secret", "iam_user", "consumer_user_policy")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def hand_made(world) -> dict[str, dict]:
    """Resources a person made by hand, in the same accounts, untagged: {row kind: the row's id and arn}."""
    kms, iam, sm = (world.provider.client(s) for s in ("kms", "iam", "secretsmanager"))
    key = kms.create_key(Description="hand-made")["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{HAND}", TargetKeyId=key["KeyId"])
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                      "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=f"{HAND}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                                                             "Resource": "*"}]})
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName=f"{HAND}-policy", PolicyDocument=doc)
    secret = sm.create_secret(Name=f"{HAND}-secret", SecretString="{}")
    ciam = world.consumer.client("iam")
    user = ciam.create_user(UserName=f"{HAND}-user")["User"]
    ciam.put_user_policy(UserName=user["UserName"], PolicyName=f"{HAND}-user-policy", PolicyDocument=doc)
    return {"kms_key": {"id": key["KeyId"], "arn": key["Arn"]}, "kms_alias": {"id": f"alias/{HAND}", "arn": None},
            "iam_role": {"id": role["RoleName"], "arn": role["Arn"]},
            "iam_role_policy": {"id": f"{role['RoleName']}/{HAND}-policy", "arn": None},
            "secret": {"id": f"{HAND}-secret", "arn": secret["ARN"]},
            "iam_user": {"id": user["UserName"], "arn": user["Arn"]},
            "consumer_user_policy": {"id": f"{user['UserName']}/{HAND}-user-policy", "arn": None}}


def rows_of(path: Path) -> dict[str, dict]:
    return {row["kind"]: row for row in json.loads(path.read_text())["resources"]}


def snapshot(world, targets: dict[str, dict]) -> dict:
    """What AWS says about each target now: what a teardown must leave exactly as it was."""
    kms, iam, sm = (world.provider.client(s) for s in ("kms", "iam", "secretsmanager"))
    ciam = world.consumer.client("iam")
    out = {}
    for kind, t in targets.items():
        if kind == "kms_key":
            meta = kms.describe_key(KeyId=t["id"])["KeyMetadata"]
            out[kind] = (meta["KeyState"], kms.list_resource_tags(KeyId=t["id"]).get("Tags"))
        elif kind == "kms_alias":
            out[kind] = kms.describe_key(KeyId=t["id"])["KeyMetadata"]["KeyId"]
        elif kind == "iam_role":
            out[kind] = (iam.get_role(RoleName=t["id"])["Role"]["Arn"], iam.list_role_policies(RoleName=t["id"])["PolicyNames"])
        elif kind == "iam_role_policy":
            role, policy = t["id"].split("/", 1)
            out[kind] = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        elif kind == "secret":
            found = sm.describe_secret(SecretId=t["arn"])
            out[kind] = (found["Name"], found.get("DeletedDate"), found.get("Tags"))
        elif kind == "iam_user":
            out[kind] = (ciam.get_user(UserName=t["id"])["User"]["Arn"], ciam.list_user_policies(UserName=t["id"])["PolicyNames"])
        elif kind == "consumer_user_policy":
            user, policy = t["id"].split("/", 1)
            out[kind] = ciam.get_user_policy(UserName=user, PolicyName=policy)["PolicyDocument"]
    return out


def tamper(path: Path, targets: dict[str, dict], kinds) -> None:
    state = json.loads(path.read_text())
    for row in state["resources"]:
        if row["kind"] in kinds:
            row["id"], row["arn"] = targets[row["kind"]]["id"], targets[row["kind"]]["arn"]
    path.write_text(json.dumps(state))


def assert_orders_gone(world) -> None:
    names = Names("orders")
    kms, iam, sm = (world.provider.client(s) for s in ("kms", "iam", "secretsmanager"))
    assert names.access_role not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert names.consumer_user not in [u["UserName"] for u in world.consumer.client("iam").list_users()["Users"]]
    assert names.secret not in [s["Name"] for s in sm.list_secrets()["SecretList"]]
    assert names.key_alias not in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    tagged = [k for k in kms.list_keys()["Keys"]
              if {"TagKey": "xacct:deployment", "TagValue": "orders"} in kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]]
    assert tagged and all(kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
                          for k in tagged)


CASES = [pytest.param(HAND, (kind,), id=f"hand-made-{kind}") for kind in TAMPERABLE] + [
    pytest.param("billing", (kind,), id=f"billing-{kind}") for kind in TAMPERABLE] + [
    pytest.param(HAND, TAMPERABLE, id="hand-made-every-row"), pytest.param("billing", TAMPERABLE, id="billing-every-row")]


@pytest.mark.parametrize(("owner", "kinds"), CASES)
def test_tampered_rows_are_left_alone_and_own_resources_still_go(world, password, owner, kinds):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    if owner == HAND:
        targets = hand_made(world)
    else:
        assert invoke(world.setup_args("--enable-data-api", "--yes", name="billing")).exit_code == 0
        targets = {k: {"id": r["id"], "arn": r.get("arn")} for k, r in rows_of(Path(".xacct/billing.json")).items()}
    targets = {k: v for k, v in targets.items() if k in kinds}
    before = snapshot(world, targets)
    tamper(STATE, targets, kinds)

    res = invoke(["teardown", "--name", "orders", "--yes"])

    assert res.exit_code == 1, res.output
    for kind, target in targets.items():
        assert target["id"] in res.output, (kind, res.output)
    assert snapshot(world, targets) == before  # nothing foreign deleted, untagged or rewritten
    assert_orders_gone(world)
    assert not STATE.exists()
    if owner == "billing":  # the other deployment is whole: its own status says so
        status = invoke(["status", "--name", "billing", "--output", "json"])
        assert status.exit_code == 0, status.output


def test_name_and_state_that_disagree_are_refused(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    res = CliRunner().invoke(cli, ["teardown", "--name", "other", "--state", str(STATE), "--yes"])
    assert res.exit_code == 2 and "belongs to deployment 'orders', not 'other'" in " ".join(res.output.split())
    assert world.provider.client("iam").get_role(RoleName=Names("orders").access_role)


def test_the_guard_refuses_right_before_the_delete_when_the_plan_is_stale(world, password):
    """The screen ran (or was skipped: apply_teardown plans from the state file alone) and then the role stopped being
    this deployment's: the guarded delete reads it again, refuses with the role named, and deletes nothing."""
    from tests.helpers.pipeline import apply_teardown
    from xacct_dataapi.errors import StepFailed
    from xacct_dataapi.resource_types import NotOurs

    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    iam = world.provider.client("iam")
    role = Names("orders").access_role
    iam.tag_role(RoleName=role, Tags=[{"Key": "xacct:deployment", "Value": "someone-else"}])
    with pytest.raises((NotOurs, StepFailed)) as info:
        apply_teardown(STATE, sleep=lambda s: None)
    assert role in str(info.value) and "Not deleting" in str(info.value)
    assert iam.get_role(RoleName=role)["Role"]["RoleName"] == role
    assert iam.list_role_policies(RoleName=role)["PolicyNames"]  # its inline policy too: refused with its role
    assert json.loads(STATE.read_text())["resources"], "refused rows stay recorded"


def test_the_guard_reads_again_mid_run_after_the_screen_passed(world, password, monkeypatch):
    """The plan carries each guard as data (issue 26) and the executor reads the resource when the item runs, not when
    the plan was made: teardown's screen passes, the run starts, and after its first provider call lands the key is
    retagged for another deployment. The alias (ours only while it points at a key tagged for this deployment) and
    the key are then refused by name; both stay in AWS, untouched, and recorded."""
    from tests.helpers.hooks import CallHooks

    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    kms = world.provider.client("kms")
    key_id = next(r["id"] for r in json.loads(STATE.read_text())["resources"] if r["kind"] == "kms_key")

    retagged: list[str] = []

    def retag(n: int, label: str) -> None:  # once, right after the first provider call AWS accepted
        if label.startswith("provider:") and not retagged:
            kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "xacct:deployment", "TagValue": HAND}])
            retagged.append(label)

    hooks = CallHooks(after=retag).install(monkeypatch)
    res = invoke(["teardown", "--name", "orders", "--yes"])
    assert res.exit_code == 1, res.output
    assert retagged and hooks.calls.index(retagged[0]) < len(hooks.calls) - 1  # the run went on after the retag
    assert "Not deleting KMS alias alias/xacct-orders" in " ".join(res.output.split())
    assert "provider:kms.DeleteAlias" not in hooks.calls and "provider:kms.ScheduleKeyDeletion" not in hooks.calls
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.describe_key(KeyId="alias/xacct-orders")["KeyMetadata"]["KeyId"] == key_id
    assert {r["kind"] for r in json.loads(STATE.read_text())["resources"]} >= {"kms_key", "kms_alias"}
