"""Every path to the data (issue "nothing gets in unseen"): each escalation a person with provider-account access can
add by hand is a FAIL that names the principal, the action and where it stands, with the command that removes it;
nothing else fails."""
from __future__ import annotations

import json

import pytest

from tests.helpers.world import aws_managed_policy
from tests.doctor.test_links import OTHER, add_statement, assert_only, endpoint, report_of, role_arn, secret_arn

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


def test_an_aws_managed_policy_attached_to_the_access_role_names_what_it_allows(deployed):
    arn = aws_managed_policy("AdministratorAccess")
    deployed.world.provider.client("iam").attach_role_policy(RoleName=deployed.names.access_role, PolicyArn=arn)
    report = report_of(deployed)
    assert_only(report, "role.other-policies", f"attached policy {arn} on role {deployed.names.access_role} gives * to "
                f"whoever may assume {role_arn(deployed)}")
    assert f"aws iam detach-role-policy --role-name {deployed.names.access_role} --policy-arn {arn}" in \
        report.get("role.other-policies").fix


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
    assert_only(report, "key.grants", f"grant {grant} on key {key_of(deployed)} gives Decrypt to {ELSEWHERE}")
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


# --------------------------------------------------------------------------- the consumer side

CONSUMER_ROOT = "arn:aws:iam::111111111111:root"


def trust_of(dep) -> dict:
    return dep.world.provider.client("iam").get_role(RoleName=dep.names.access_role)["Role"]["AssumeRolePolicyDocument"]


def set_trust(dep, doc: dict) -> None:
    dep.world.provider.client("iam").update_assume_role_policy(RoleName=dep.names.access_role,
                                                               PolicyDocument=json.dumps(doc))


def test_a_trust_statement_for_the_whole_consumer_account(deployed):
    """Every principal of the consumer account whose own IAM lets it assume roles, not just the application."""
    before = trust_of(deployed)
    set_trust(deployed, json.loads(add_statement(json.dumps(before), {
        "Sid": "WholeAccount", "Effect": "Allow", "Principal": {"AWS": CONSUMER_ROOT}, "Action": "sts:AssumeRole"})))
    assert_only(report_of(deployed), "role.trust.extra",
                f"'WholeAccount' allows sts:AssumeRole to {CONSUMER_ROOT} (any principal there)")
    deployed.apply()  # setup: the trust is xacct's document, written back as it was
    assert trust_of(deployed) == before
    assert report_of(deployed).exit_code == 0


def test_a_principal_arn_wildcard_in_xacct_s_trust_statement(deployed):
    before = trust_of(deployed)
    widened = json.loads(json.dumps(before))
    cond = widened["Statement"][0]["Condition"]
    cond["ArnLike"] = {"aws:PrincipalArn": "arn:aws:iam::111111111111:*"}
    del cond["ArnEquals"]
    set_trust(deployed, widened)
    report = report_of(deployed)
    assert sorted(c.id for c in report.checks if c.status == "fail") == ["role.trust", "role.trust.extra"]
    extra = report.get("role.trust.extra")
    assert (f"allows sts:AssumeRole to {CONSUMER_ROOT} where aws:PrincipalArn ArnLike arn:aws:iam::111111111111:*"
            in extra.evidence), extra.evidence
    assert "with other conditions" in extra.evidence  # the external id still applies, and is said to
    deployed.apply()
    assert trust_of(deployed) == before


def test_an_endpoint_statement_admitting_any_principal_s_data_api_calls(deployed):
    ec2 = deployed.world.consumer.client("ec2")
    ep = endpoint(deployed)
    before = ep["PolicyDocument"]
    ec2.modify_vpc_endpoint(VpcEndpointId=ep["VpcEndpointId"], PolicyDocument=add_statement(before, {
        "Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "rds-data:*", "Resource": "*"}))
    report = report_of(deployed)
    assert_only(report, "endpoint.policy.extra", "'Anyone' allows rds-data:BatchExecuteStatement")
    assert "to * (any principal there)" in report.get("endpoint.policy.extra").evidence
    assert report.get("endpoint.policy").status == "ok"  # xacct's own statement is still there
    deployed.apply()  # setup rewrites the shared endpoint's policy from its members
    assert "Anyone" not in endpoint(deployed)["PolicyDocument"]
    assert report_of(deployed).exit_code == 0


def test_an_unusual_endpoint_statement_only_warns(deployed):
    ec2 = deployed.world.consumer.client("ec2")
    ep = endpoint(deployed)
    ec2.modify_vpc_endpoint(VpcEndpointId=ep["VpcEndpointId"], PolicyDocument=add_statement(ep["PolicyDocument"], {
        "Sid": "NoDeletes", "Effect": "Deny", "Principal": "*", "Action": "rds-data:RollbackTransaction",
        "Resource": "*"}))
    report = report_of(deployed)
    assert report.get("endpoint.policy.extra").status == "warn"
    assert "NoDeletes" in report.get("endpoint.policy.extra").evidence
    assert report.exit_code == 0
