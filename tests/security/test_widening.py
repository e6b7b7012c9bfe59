"""setup never silently keeps a way to the data it did not make (issue 24): a policy attached to the access role,
another inline policy on it, a KMS grant on the key. A re-run repairs what xacct wrote, keeps those (it did not make
them, so it never removes them), names each with the command that removes it, and exits 1; status fails on them too.
Control actions added to the documents xacct owns (the key and secret policies) are rewritten away."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from tests.helpers.world import aws_managed_policy
from xacct_dataapi import policies
from xacct_dataapi.cli import cli
from xacct_dataapi.config import Names

pytestmark = pytest.mark.usefixtures("fast_aws")

OTHER_ROOT = "arn:aws:iam::333333333333:root"
NAMES = Names("default")
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture
def set_up(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    return world


def rerun(world):
    return invoke(world.setup_args("--enable-data-api", "--yes"))


def status_detail(step_key: str) -> tuple[int, dict]:
    result = invoke(["status", "--output", "json"])
    step = next(s for s in json.loads(result.stdout)["steps"] if s["key"] == step_key)
    return result.exit_code, step


def key_arn(world) -> str:
    return world.provider.client("kms").describe_key(KeyId=NAMES.key_alias)["KeyMetadata"]["Arn"]


def test_policies_attached_to_the_access_role_are_named_kept_and_fail_setup(set_up):
    world = set_up
    iam = world.provider.client("iam")
    role = NAMES.access_role
    mine = iam.create_policy(PolicyName="everything", PolicyDocument=json.dumps(EVERYTHING))["Policy"]["Arn"]
    aws_managed = aws_managed_policy()
    iam.attach_role_policy(RoleName=role, PolicyArn=mine)
    iam.attach_role_policy(RoleName=role, PolicyArn=aws_managed)
    iam.put_role_policy(RoleName=role, PolicyName="more-secrets", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}))
    # ...and xacct's own inline policy widened by hand: that one is xacct's, so setup rewrites it.
    ours = iam.get_role_policy(RoleName=role, PolicyName=NAMES.access_role_policy)["PolicyDocument"]
    iam.put_role_policy(RoleName=role, PolicyName=NAMES.access_role_policy, PolicyDocument=json.dumps(EVERYTHING))

    result = rerun(world)

    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    for fix in (f"aws iam detach-role-policy --role-name {role} --policy-arn {mine}",
                f"aws iam detach-role-policy --role-name {role} --policy-arn {aws_managed}",
                f"aws iam delete-role-policy --role-name {role} --policy-name more-secrets"):
        assert fix in out, out
    assert "gives secretsmanager:* to whoever may assume" in out
    # AWS side: what xacct wrote is back, what it did not write is still there.
    assert policies.equal(iam.get_role_policy(RoleName=role, PolicyName=NAMES.access_role_policy)["PolicyDocument"],
                          ours)
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert attached == {mine, aws_managed}
    assert set(iam.list_role_policies(RoleName=role)["PolicyNames"]) == {NAMES.access_role_policy, "more-secrets"}
    assert iam.get_policy(PolicyArn=mine)["Policy"]["Arn"] == mine

    code, step = status_detail("access_role")
    assert code == 1 and step["status"] == "failed"
    assert any(mine in d for d in step["detail"]) and any("more-secrets" in d for d in step["detail"])

    # Once the operator removes them, setup and status pass again.
    for arn in (mine, aws_managed):
        iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.delete_role_policy(RoleName=role, PolicyName="more-secrets")
    assert rerun(world).exit_code == 0
    code, step = status_detail("access_role")
    assert (code, step["status"]) == (0, "done")


def test_a_kms_grant_to_another_account_is_named_not_revoked_and_fails_setup(set_up):
    world = set_up
    kms = world.provider.client("kms")
    key = key_arn(world)
    grant = kms.create_grant(KeyId=key, GranteePrincipal=OTHER_ROOT, Operations=["Decrypt"])["GrantId"]

    result = rerun(world)

    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert f"grant {grant} on key {key} gives Decrypt to {OTHER_ROOT}" in out, out
    assert f"aws kms revoke-grant --key-id {key} --grant-id {grant}" in out
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key)["Grants"]] == [grant]  # not revoked
    code, step = status_detail("key_policy")
    assert code == 1 and step["status"] == "failed" and any(grant in d for d in step["detail"])
    assert step["foreign"] and grant in step["foreign"][0]
    # verify refuses, and does not send the operator to a setup re-run that keeps the grant.
    refused = invoke(["verify"])
    assert refused.exit_code == 1
    said = " ".join(refused.output.split())
    assert "remove what each finding names" in said and "`xacct setup` to repair" not in said, said

    kms.revoke_grant(KeyId=key, GrantId=grant)
    assert rerun(world).exit_code == 0


@pytest.mark.parametrize("where, action", [("key", "kms:PutKeyPolicy"), ("key", "kms:CreateGrant"),
                                           ("secret", "secretsmanager:PutResourcePolicy")])
def test_a_control_action_for_another_account_in_xacct_s_documents_is_rewritten_away(set_up, where, action):
    """The key and secret policies are xacct's documents: setup puts them back as it wrote them."""
    world = set_up
    sneaky = {"Sid": "Sneaky", "Effect": "Allow", "Principal": {"AWS": OTHER_ROOT}, "Action": action, "Resource": "*"}
    if where == "key":
        kms = world.provider.client("kms")
        read = lambda: kms.get_key_policy(KeyId=key_arn(world), PolicyName="default")["Policy"]  # noqa: E731
        before = read()
        doc = policies.parse(before)
        kms.put_key_policy(KeyId=key_arn(world), PolicyName="default",
                           Policy=json.dumps({**doc, "Statement": doc["Statement"] + [sneaky]}))
    else:
        sm = world.provider.client("secretsmanager")
        read = lambda: sm.get_resource_policy(SecretId=NAMES.secret)["ResourcePolicy"]  # noqa: E731
        before = read()
        doc = policies.parse(before)
        sm.put_resource_policy(SecretId=NAMES.secret,
                               ResourcePolicy=json.dumps({**doc, "Statement": doc["Statement"] + [sneaky]}))
    assert invoke(["doctor"]).exit_code == 1
    result = rerun(world)
    assert result.exit_code == 0, result.output
    assert "Sneaky" in " ".join(result.output.split())  # the repair names the statement it removed
    assert policies.equal(read(), before)
    assert action not in read()
