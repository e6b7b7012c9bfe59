"""The sandbox's policy evaluator against AWS's documented evaluation logic (IAM User Guide: "Policy evaluation
logic", "Policy evaluation for requests within a single account", "Cross-account policy evaluation logic",
"IAM JSON policy elements: Condition operators"). Each test is one documented rule."""
from __future__ import annotations

import pytest

from xacct_dataapi.policy_eval.decide import (ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, KMS_KEY, ROLE_TRUST, Principal,
                                                Question, decide)
from xacct_dataapi.policy_eval.policy import conditions_hold

A, B = "111111111111", "222222222222"
USER = Principal(f"arn:aws:iam::{A}:user/alice", A, f"arn:aws:iam::{A}:user/alice")
ROLE = f"arn:aws:iam::{B}:role/app/reader"
SESSION_B = Principal(f"arn:aws:sts::{B}:assumed-role/reader/s1", B, ROLE)
SECRET = f"arn:aws:secretsmanager:us-west-2:{B}:secret:db-AbCdEf"


def allow(action="*", resource="*", **extra):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}]}


def deny(action="*", resource="*", **extra):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": resource, **extra}]}


def who(p: Principal, *policies) -> Principal:
    return Principal(p.arn, p.account, p.principal_arn, tuple(policies))


def ask(p, action="secretsmanager:GetSecretValue", resource=SECRET, **kw) -> str:
    account = kw.pop("resource_account", resource.split(":")[4] if resource.count(":") >= 5 else None)
    return decide(Question(p, action, resource, resource_account=account, **kw)).decision


def test_nothing_allows_by_default():
    assert ask(who(SESSION_B)) == IMPLICIT_DENY


def test_an_identity_allow_is_enough_within_one_account():
    assert ask(who(SESSION_B, allow("secretsmanager:GetSecretValue", SECRET))) == ALLOW


def test_an_explicit_deny_anywhere_overrides_allows():
    p = who(SESSION_B, allow(), deny("secretsmanager:Get*", SECRET))
    assert ask(p) == EXPLICIT_DENY
    resource_deny = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}
    assert ask(who(SESSION_B, allow()), resource_policy=resource_deny) == EXPLICIT_DENY


def test_a_resource_policy_naming_the_role_allows_within_one_account_without_an_identity_policy():
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "secretsmanager:*", "Resource": "*"}]}
    assert ask(who(SESSION_B), resource_policy=policy) == ALLOW


def test_a_resource_policy_naming_the_account_delegates_to_identity_policies():
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"}, "Action": "*",
                             "Resource": "*"}]}
    assert ask(who(SESSION_B), resource_policy=policy) == IMPLICIT_DENY


def test_cross_account_needs_the_identity_policy_and_the_resource_policy():
    naming_a = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": A}, "Action": "*", "Resource": "*"}]}
    assert ask(who(USER, allow()), resource_policy=None) == IMPLICIT_DENY  # secret in B, caller in A
    assert ask(who(USER), resource_policy=naming_a) == IMPLICIT_DENY
    assert ask(who(USER, allow()), resource_policy=naming_a) == ALLOW


def test_a_kms_key_policy_must_allow_even_within_the_account():
    key = f"arn:aws:kms:us-west-2:{B}:key/k"
    assert ask(who(SESSION_B, allow()), "kms:Decrypt", key, resource_policy={"Statement": []},
               resource_kind=KMS_KEY) == IMPLICIT_DENY
    root = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"}, "Action": "kms:*",
                           "Resource": "*"}]}
    assert ask(who(SESSION_B, allow()), "kms:Decrypt", key, resource_policy=root, resource_kind=KMS_KEY) == ALLOW
    assert ask(who(SESSION_B), "kms:Decrypt", key, resource_policy=root, resource_kind=KMS_KEY) == IMPLICIT_DENY


def test_a_trust_policy_must_allow_and_the_external_id_must_match():
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"sts:ExternalId": "xyz"}}}]}
    p = who(USER, allow("sts:AssumeRole", ROLE))
    kw = dict(resource_policy=trust, resource_kind=ROLE_TRUST)
    assert ask(p, "sts:AssumeRole", ROLE, context={"sts:externalid": ["xyz"]}, **kw) == ALLOW
    assert ask(p, "sts:AssumeRole", ROLE, context={"sts:externalid": ["nope"]}, **kw) == IMPLICIT_DENY
    assert ask(p, "sts:AssumeRole", ROLE, context={}, **kw) == IMPLICIT_DENY  # missing: StringEquals fails
    assert ask(who(USER), "sts:AssumeRole", ROLE, context={"sts:externalid": ["xyz"]}, **kw) == IMPLICIT_DENY


def test_vpc_endpoint_policy_must_also_allow():
    p = who(SESSION_B, allow())
    assert ask(p, endpoint_policy={"Statement": []}) == IMPLICIT_DENY
    open_policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
    assert ask(p, endpoint_policy=open_policy) == ALLOW


def test_actions_match_case_insensitively_and_resources_case_sensitively():
    assert ask(who(SESSION_B, allow("SecretsManager:getsecret*", SECRET))) == ALLOW
    assert ask(who(SESSION_B, allow("secretsmanager:GetSecretValue", SECRET.upper()))) == IMPLICIT_DENY
    assert ask(who(SESSION_B, allow("secretsmanager:GetSecretValue", SECRET[:-6] + "??????"))) == ALLOW


def test_not_action_and_not_resource():
    assert ask(who(SESSION_B, {"Statement": [{"Effect": "Allow", "NotAction": "kms:*", "Resource": "*"}]})) == ALLOW
    assert ask(who(SESSION_B, {"Statement": [{"Effect": "Allow", "Action": "*", "NotResource": SECRET}]})) == IMPLICIT_DENY


@pytest.mark.parametrize("condition, context, holds", [
    ({"StringEquals": {"k": "a"}}, {}, False),  # missing key: false
    ({"StringEqualsIfExists": {"k": "a"}}, {}, True),  # ...IfExists: true when missing
    ({"StringEqualsIfExists": {"k": "a"}}, {"k": ["b"]}, False),
    ({"StringNotEquals": {"k": "a"}}, {}, True),  # negated operators: true when missing
    ({"Null": {"k": "true"}}, {}, True),
    ({"Null": {"k": "true"}}, {"k": ["v"]}, False),
    ({"Null": {"k": "false"}}, {"k": ["v"]}, True),
    ({"StringEquals": {"k": ["a", "b"]}}, {"k": ["b"]}, True),  # values of one key: OR
    ({"StringEquals": {"k": "a", "j": "b"}}, {"k": ["a"]}, False),  # keys of one operator: AND
    ({"StringEquals": {"K": "a"}}, {"k": ["a"]}, True),  # keys are case-insensitive
    ({"StringEquals": {"k": "A"}}, {"k": ["a"]}, False),  # values are not
    ({"StringEqualsIgnoreCase": {"k": "A"}}, {"k": ["a"]}, True),
    ({"StringLike": {"k": "ab*"}}, {"k": ["abc"]}, True),
    ({"ArnLike": {"k": "arn:aws:iam::*:role/x*"}}, {"k": [ROLE]}, False),
    ({"ArnLike": {"k": "arn:aws:iam::*:role/app/*"}}, {"k": [ROLE]}, True),
    ({"ArnEquals": {"k": ROLE}}, {"k": [ROLE]}, True),
    ({"ArnNotEquals": {"k": ROLE}}, {"k": [ROLE]}, False),
    ({"ForAnyValue:StringEquals": {"k": ["a", "z"]}}, {"k": ["x", "z"]}, True),
    ({"ForAllValues:StringEquals": {"k": ["a", "z"]}}, {"k": ["a", "x"]}, False),
    ({"ForAllValues:StringEquals": {"k": ["a"]}}, {}, True),
    ({"Bool": {"k": "true"}}, {"k": ["true"]}, True),
    ({"NumericLessThan": {"k": "10"}}, {"k": ["3"]}, True),
    ({"IpAddress": {"k": "10.0.0.0/8"}}, {"k": ["10.1.2.3"]}, True),
])
def test_condition_operators(condition, context, holds):
    assert conditions_hold(condition, context) is holds


def test_xacct_secret_policy_admits_the_access_role_for_the_current_version_only():
    from xacct_dataapi.policies import secret_resource_policy

    policy = secret_resource_policy(ROLE, SECRET)
    p = who(SESSION_B)
    base = {"aws:principalarn": [ROLE]}
    assert ask(p, resource_policy=policy, context=base) == ALLOW  # no stage named, as the Data API reads it
    assert ask(p, resource_policy=policy, context=base | {"secretsmanager:versionstage": ["AWSPREVIOUS"]}) == IMPLICIT_DENY
    admin = who(Principal(f"arn:aws:iam::{B}:user/admin", B, f"arn:aws:iam::{B}:user/admin"), allow())
    assert ask(admin, resource_policy=policy, context={"aws:principalarn": [admin.principal_arn]}) == EXPLICIT_DENY
