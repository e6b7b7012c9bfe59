"""A consumer principal's inline policy is this deployment's only if it names the deployment's access role itself (by
ARN, any path), not a role whose name merely contains that name."""
from __future__ import annotations

from xacct_dataapi.config import Names
from xacct_dataapi.resource_types.iam_policy import ConsumerRolePolicy, roles_named

NAMES = Names("orders")
ROLE = "arn:aws:iam::222222222222:role/xacct/us-west-2/orders-aurora/xacct-orders-data-api-access"


def policy(resource) -> dict:
    return {"PolicyName": NAMES.consumer_policy, "Owner": None, "Principal": "app",
            "Document": {"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": resource}]}}


def test_the_access_role_by_its_arn_is_ours():
    assert ConsumerRolePolicy().judge(policy(ROLE), None, NAMES).ours
    assert ConsumerRolePolicy().judge(policy([ROLE.replace("/xacct/us-west-2/orders-aurora/", "/")]), None, NAMES).ours


def test_a_role_whose_name_only_contains_it_is_not():
    lookalike = ROLE.replace("role/xacct/us-west-2/orders-aurora/", "role/xacct-foo-")
    assert "xacct-orders-data-api-access" in lookalike
    verdict = ConsumerRolePolicy().judge(policy(lookalike), None, NAMES)
    assert not verdict.ours and "xacct-orders-data-api-access" in verdict.why
    assert not ConsumerRolePolicy().judge(policy("*"), None, NAMES).ours


def test_roles_named_reads_any_shape_without_failing():
    assert roles_named({"Statement": {"Resource": ROLE}}) == {"xacct-orders-data-api-access"}
    for odd in (None, "text", {"Statement": None}, {"Statement": [1, {"Resource": 5}, {"Resource": [None, ROLE]}]}):
        assert roles_named(odd) <= {"xacct-orders-data-api-access"}
