"""Every registered procedure (procedures.py) declares the IAM actions it calls, so a security reviewer reads in the
dry run which permissions an Operation uses, not only its name: each is a real operation of its service and in the
IAM service authorization reference, and the dry run's JSON shows them.

tests/steps/test_plan_is_data.py holds the declarations against the truth: its scenarios plan and run every procedure
(but the database user's), `xacct permissions` for the planning command grants every declared action, and a run
calls none it did not declare."""
from __future__ import annotations

import pytest

import xacct_dataapi.resource_types  # noqa: F401 (registers their procedures, as any plan has)
import xacct_dataapi.steps  # noqa: F401
from tests.security.test_permissions import is_real_operation, sar
from xacct_dataapi import procedures
from xacct_dataapi.models import Account, Call, Operation
from xacct_dataapi.render import call_json


def test_every_registered_procedure_declares_the_actions_it_calls():
    assert len(procedures.PROCEDURES) >= 12
    assert set(procedures.ACTIONS) == set(procedures.PROCEDURES)
    for name in procedures.PROCEDURES:
        assert procedures.actions_of(name), name


@pytest.mark.parametrize("name", sorted(procedures.PROCEDURES))
def test_each_declared_action_is_a_real_operation_of_its_service(name):
    for action in procedures.actions_of(name):
        assert is_real_operation(action), f"{name} declares {action}, which botocore's {action.split(':')[0]} lacks"


@pytest.mark.parametrize("name", sorted(procedures.PROCEDURES))
def test_each_declared_action_is_in_the_service_authorization_reference(name):
    pytest.importorskip("parliament")
    for action in procedures.actions_of(name):
        assert sar(*action.split(":")) is not None, (name, action)


def test_one_function_under_two_names_declares_what_each_calls():
    """Deleting a role and deleting a user share a function, not their actions: the role's deletion never needs the
    user's access keys, nor the user's a role's policies."""
    role, user = (set(procedures.actions_of(n)) for n in ("iam:delete_role_with_policies",
                                                           "iam:delete_user_with_dependents"))
    assert procedures.function_of("iam:delete_role_with_policies") == procedures.function_of(
        "iam:delete_user_with_dependents")
    assert "iam:DeleteRole" in role and not {a for a in role if "User" in a or "AccessKey" in a}
    assert "iam:DeleteUser" in user and not {a for a in user if "Role" in a}


@pytest.mark.parametrize("actions", [(), ("iam:delete_role",), ("DeleteRole",), ("iam:Delete*",)])
def test_a_procedure_must_declare_iam_actions_as_iam_spells_them(actions):
    def unregistered(ops) -> dict:
        return {}

    with pytest.raises(ValueError, match="test:unregistered"):
        procedures.procedure("test:unregistered", actions=actions)(unregistered)
    with pytest.raises(TypeError):
        procedures.procedure("test:unregistered")  # no actions: not a choice
    assert "test:unregistered" not in procedures.PROCEDURES


def test_the_dry_run_shows_each_items_iam_actions():
    """An Operation: its procedure's, sorted; a Call: its one, spelt as IAM does (DescribeDBClusters)."""
    operation = call_json(Operation(Account.PROVIDER, name="kms:schedule_key_deletion",
                                    params={"KeyId": "k-1", "PendingWindowInDays": 7}))
    assert operation["iam_actions"] == ["kms:DescribeKey", "kms:ScheduleKeyDeletion"]
    call = call_json(Call(Account.PROVIDER, "rds", "enable_http_endpoint", {"ResourceArn": "arn"}))
    assert call["iam_actions"] == ["rds:EnableHttpEndpoint"]
    call = call_json(Call(Account.PROVIDER, "rds", "describe_db_clusters"))
    assert call["iam_actions"] == ["rds:DescribeDBClusters"]
