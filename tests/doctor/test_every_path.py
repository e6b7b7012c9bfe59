"""Every path to the data (issue "nothing gets in unseen"): each escalation a person with provider-account access can
add by hand is a FAIL that names the principal, the action and where it stands, with the command that removes it;
nothing else fails."""
from __future__ import annotations

import json

import pytest

from tests.doctor.test_links import OTHER, add_statement, assert_only, report_of, role_arn, secret_arn

ELSEWHERE = f"arn:aws:iam::{OTHER}:root"


def key_of(dep) -> str:
    return dep.world.provider.client("kms").describe_key(KeyId=dep.names.key_alias)["KeyMetadata"]["Arn"]


def test_a_managed_policy_with_every_action_attached_to_the_access_role(deployed):
    iam = deployed.world.provider.client("iam")
    arn = iam.create_policy(PolicyName="everything", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=deployed.names.access_role, PolicyArn=arn)
    report = report_of(deployed)
    assert_only(report, "role.other-policies", arn)
    assert "detach-role-policy" in report.get("role.other-policies").fix


def test_an_extra_inline_policy_on_the_access_role(deployed):
    iam = deployed.world.provider.client("iam")
    iam.put_role_policy(RoleName=deployed.names.access_role, PolicyName="more-secrets", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}))
    report = report_of(deployed)
    assert_only(report, "role.other-policies", "inline policy more-secrets")
    assert "delete-role-policy" in report.get("role.other-policies").fix


def test_a_kms_grant_of_decrypt_to_another_account(deployed):
    kms = deployed.world.provider.client("kms")
    grant = kms.create_grant(KeyId=key_of(deployed), GranteePrincipal=ELSEWHERE, Operations=["Decrypt"])["GrantId"]
    report = report_of(deployed)
    assert_only(report, "key.grants", f"grant {grant} gives Decrypt to {ELSEWHERE}")
    assert f"revoke-grant --key-id {key_of(deployed)} --grant-id {grant}" in report.get("key.grants").fix


@pytest.mark.parametrize("action", ["kms:PutKeyPolicy", "kms:CreateGrant"])
def test_a_key_policy_control_action_for_another_account(deployed, action):
    """Not a read of the data, but whoever holds it can grant themselves every read later."""
    kms = deployed.world.provider.client("kms")
    key = key_of(deployed)
    doc = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=add_statement(doc, {
        "Sid": "Sneaky", "Effect": "Allow", "Principal": {"AWS": ELSEWHERE}, "Action": action, "Resource": "*"}))
    assert_only(report_of(deployed), "key.policy.extra", f"allows {action} to {ELSEWHERE}")


def test_a_secret_policy_grant_of_put_resource_policy_to_another_account(deployed):
    sm = deployed.world.provider.client("secretsmanager")
    arn = secret_arn(deployed)
    doc = sm.get_resource_policy(SecretId=arn)["ResourcePolicy"]
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=add_statement(doc, {
        "Sid": "Sneaky", "Effect": "Allow", "Principal": {"AWS": ELSEWHERE},
        "Action": "secretsmanager:PutResourcePolicy", "Resource": "*"}))
    assert_only(report_of(deployed), "secret.policy.extra", f"allows secretsmanager:PutResourcePolicy to {ELSEWHERE}")


def test_an_untouched_deployment_passes_every_audit(deployed):
    report = report_of(deployed)
    assert {report.get(c).status for c in ("role.other-policies", "key.grants")} == {"ok"}
    assert role_arn(deployed)
