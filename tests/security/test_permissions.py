"""The generated operator policy (xacct_dataapi/permissions.py): docs/permissions.md is its output, every action
is a real AWS operation, `"*"` only where AWS's service authorization reference lists no resource type (parliament
ships that reference), parliament finds nothing unexpected, and `xacct permissions` prints exactly policy()."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import botocore.session
import pytest
from typer.testing import CliRunner

from xacct_dataapi import permissions
from xacct_dataapi.cli import cli
from xacct_dataapi.models import Account

DOCS = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
BOTOCORE_SERVICE = {"tag": "resourcegroupstaggingapi"}
FULL = permissions.Scope(region="us-west-2", provider="222222222222", consumer="111111111111", cluster="orders-aurora",
                         vpc="vpc-0abc1234", consumer_role="orders-app", consumer_user="orders-user")

# parliament's findings on the operator policies that are understood and accepted:
# - RepairEndpointSubnetsAndGroup grants ModifyVpcEndpoint on subnets and the group only (the endpoint itself is in
#   ManageXacctEndpoint, with the tag condition), which parliament reports as missing the required vpc-endpoint.
EXPECTED_FINDINGS = {("RESOURCE_MISMATCH", "ec2:ModifyVpcEndpoint")}


def sar(prefix: str, action: str) -> list[str] | None:
    """Resource types of an action in parliament's copy of the IAM service authorization reference."""
    from parliament import iam_definition

    for service in iam_definition:
        if service["prefix"] == prefix:
            for privilege in service["privileges"]:
                if privilege["privilege"] == action:
                    return [r["resource_type"] for r in privilege["resource_types"] if r["resource_type"]]
    return None


def all_actions() -> set[str]:
    return {a for g in permissions.GRANTS for a in g.actions}


def test_docs_are_generated_from_the_table():
    assert DOCS.read_text() == permissions.markdown(), (
        "docs/permissions.md differs from the code: run `python -m xacct_dataapi.permissions > docs/permissions.md`")


def test_every_action_is_a_real_operation_of_its_service():
    session = botocore.session.get_session()
    for action in sorted(all_actions()):
        prefix, op = action.split(":")
        model = session.get_service_model(BOTOCORE_SERVICE.get(prefix, prefix))
        assert op in model.operation_names, action


@pytest.mark.parametrize("action", sorted(all_actions()))
def test_every_action_is_in_the_service_authorization_reference(action):
    pytest.importorskip("parliament")
    assert sar(*action.split(":")) is not None, action


def test_star_only_for_actions_without_a_resource_type_and_each_says_why():
    pytest.importorskip("parliament")
    for grant in permissions.GRANTS:
        if "*" in grant.resources:
            assert grant.resources == ("*",) and grant.why_star, grant.sid
            for action in grant.actions:
                assert sar(*action.split(":")) == [], f"{action} has a resource type: do not grant it on *"
        else:
            assert not grant.why_star, grant.sid


def test_no_wildcard_in_any_action_and_every_sid_unique():
    for side in Account:
        statements = permissions.policy(side, "all", FULL)["Statement"]
        sids = [s["Sid"] for s in statements]
        assert len(sids) == len(set(sids)) and all(s.isalnum() for s in sids)
        for s in statements:
            actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
            assert actions == sorted(actions) and all("*" not in a for a in actions), s


def test_parliament_finds_only_the_expected_findings():
    parliament = pytest.importorskip("parliament")
    for side in Account:
        findings = parliament.analyze_policy_string(json.dumps(permissions.policy(side, "all", FULL))).findings
        got = {(f.issue, d["action"] if isinstance(d, dict) else str(d)) for f in findings for d in
               (f.detail if isinstance(f.detail, list) else [f.detail])}
        assert got <= EXPECTED_FINDINGS, got


def test_each_command_needs_a_subset_of_all():
    for side in Account:
        everything = permissions.allowed_actions(side, "all", FULL)
        for command in permissions.COMMANDS:
            assert permissions.allowed_actions(side, command, FULL) <= everything


def test_read_only_commands_grant_no_change():
    for side in Account:
        for command in ("status", "doctor"):
            for action in permissions.allowed_actions(side, command, FULL):
                verb = action.split(":")[1]
                assert verb.startswith(("Describe", "Get", "List", "SimulatePrincipalPolicy")), (command, action)


def test_teardown_may_list_roles():
    """The bug issue 13 starts from: teardown calls iam:ListRoles, which takes only "*"."""
    (st,) = [s for s in permissions.policy("provider", "teardown")["Statement"] if "iam:ListRoles" in str(s["Action"])]
    assert st["Resource"] == "*"


def test_name_narrows_to_one_deployment_but_not_the_shared_cluster_check():
    doc = json.dumps(permissions.policy("provider", "all", permissions.Scope(name="orders")))
    assert "xacct-orders-data-api-access" in doc and "xacct:deployment" in doc and "xacct:managed-by" not in doc
    (other,) = [s for s in json.loads(doc)["Statement"] if s["Sid"] == "ReadOtherDeploymentsGrants"]
    assert other["Resource"].endswith(":role/xacct-*-data-api-access")


def test_adopted_principal_statements_only_when_asked():
    sids = {s["Sid"] for s in permissions.policy("consumer")["Statement"]}
    assert "AdoptedConsumerRoleOnlyWithConsumerRole" not in sids
    sids = {s["Sid"] for s in permissions.policy("consumer", "all", permissions.Scope(consumer_role="app"))["Statement"]}
    assert "AdoptedConsumerRoleOnlyWithConsumerRole" in sids and "AdoptedConsumerUserOnlyWithConsumerUser" not in sids


def test_cli_prints_the_generated_policy():
    res = CliRunner().invoke(cli, ["permissions", "--side", "provider", "--for", "teardown", "--output", "json",
                                   "--region", "cn-north-1", "--name", "orders"])
    assert res.exit_code == 0, res.output
    scope = permissions.Scope(region="cn-north-1", partition="aws-cn", name="orders")
    assert json.loads(res.stdout) == permissions.policy("provider", "teardown", scope)
    assert "arn:aws-cn:" in res.stdout and "arn:aws:" not in res.stdout


@pytest.mark.parametrize("args", [["--side", "both"], ["--side", "provider", "--for", "deploy"],
                                  ["--side", "consumer", "--name", "bad_name!"]])
def test_cli_rejects_bad_options(args):
    res = CliRunner().invoke(cli, ["permissions", *args])
    assert res.exit_code == 2, res.output


class _Iam:
    """list_roles finds another deployment's role; get_role_policy fails with `code`."""

    def __init__(self, code: str):
        self.code = code

    def get_paginator(self, name):
        return SimpleNamespace(paginate=lambda: [{"Roles": [{"RoleName": "xacct-other-data-api-access"}]}])

    def get_role_policy(self, RoleName, PolicyName):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": self.code, "Message": "m"}}, "GetRolePolicy")


def test_teardown_does_not_read_access_denied_as_not_shared():
    """With a profile confined by --name, teardown must not take AccessDenied on another deployment's grant for
    "nobody else uses the cluster" and turn the Data API off under it."""
    from botocore.exceptions import ClientError

    from xacct_dataapi.steps.data_api import other_deployments_on_cluster

    assert other_deployments_on_cluster(_Iam("NoSuchEntity"), "arn:aws:rds:r:1:cluster:c", "mine") == []
    with pytest.raises(ClientError):
        other_deployments_on_cluster(_Iam("AccessDenied"), "arn:aws:rds:r:1:cluster:c", "mine")
