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

from xacct_dataapi import aws, permissions
from xacct_dataapi.cli import cli
from xacct_dataapi.models import Account

DOCS = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
BOTOCORE_SERVICE = {prefix: service for service, prefix in aws.IAM_PREFIX.items()}  # IAM prefix -> botocore
FULL = permissions.Scope(region="us-west-2", provider="222222222222", consumer="111111111111", cluster="orders-aurora",
                         vpc="vpc-0abc1234", consumer_role="orders-app", consumer_user="orders-user")

# parliament's findings on the operator policies that are understood and accepted:
# - RepairEndpointSubnetsAndGroup grants ModifyVpcEndpoint on subnets and the group only (the endpoint itself is in
#   ManageSharedXacctEndpoint, with the tag condition), which parliament reports as missing the required vpc-endpoint.
# Parliament flags a statement whose resources are not all of one action's types. The EC2 create calls are split on
# purpose: aws:RequestTag holds only on the resource being created, so the VPC, subnets and groups they also name
# are granted in statements of their own (permissions.py, CreateInTheVpc / EndpointInSubnetsWithGroup).
# And it takes `aws`, the account of every AWS managed policy (arn:aws:iam::aws:policy/NAME), for a malformed account:
# ReadPoliciesAttachedToTheAccessRole names it so that the finding on an attached AWS managed policy says what it allows.
EXPECTED_FINDINGS = {("RESOURCE_MISMATCH", "ec2:ModifyVpcEndpoint"), ("RESOURCE_MISMATCH", "ec2:CreateSecurityGroup"),
                     ("RESOURCE_MISMATCH", "ec2:CreateVpcEndpoint"),
                     ("INVALID_ARN", "Account expected to be of form like 123456789012")}


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


def is_real_operation(action: str) -> bool:
    """`prefix:Operation` names an operation in botocore's model of the service (IAM's prefix, botocore's name)."""
    prefix, op = action.split(":")
    return op in botocore.session.get_session().get_service_model(BOTOCORE_SERVICE.get(prefix, prefix)).operation_names


def test_docs_are_generated_from_the_table():
    assert DOCS.read_text() == permissions.markdown(), (
        "docs/permissions.md differs from the code: run `python -m xacct_dataapi.permissions > docs/permissions.md`")


def test_every_action_is_a_real_operation_of_its_service():
    for action in sorted(all_actions()):
        assert is_real_operation(action), action


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


def test_name_narrows_to_one_deployment_and_the_shared_cluster_check_needs_no_other_role():
    """The other deployments on the cluster are the roles under its IAM path (one ListRoles on "*"): no grant on
    the other deployments' roles is needed, so --name confines every role statement to this deployment's role."""
    scope = permissions.Scope(name="orders", region="eu-west-1", cluster="orders-aurora")
    doc = json.dumps(permissions.policy("provider", "all", scope))
    # xacct:managed-by only where the deployment tag cannot be the condition: the endpoint deployments in one VPC share
    # and its group's rules (teardown keeps the key's deployment tag, so its deletion stays under the deployment's own).
    by_managed = {st["Sid"] for side in ("provider", "consumer") for st in permissions.policy(side, "all", scope)["Statement"]
                  if "xacct:managed-by" in json.dumps(st)}
    assert by_managed == {"ConvergeSharedEndpoint", "JoinOrLeaveSharedEndpoint", "SharedEndpointGroupRules"}
    assert "xacct:deployment" in doc
    assert "xacct:member:orders" in json.dumps(permissions.policy("consumer", "all", scope))  # only its member tag
    roles = {r for st in json.loads(doc)["Statement"] for r in ([st["Resource"]] if isinstance(st["Resource"], str)
                                                                else st["Resource"]) if ":role/" in r}
    # The role at the cluster's path (a role's ARN includes its path), and at `/` for a role setup replaces; and for
    # `list --refresh`'s tag read, the deployment's role on any cluster of the region (still this deployment's name).
    assert roles == {"arn:aws:iam::PROVIDER:role/xacct/eu-west-1/orders-aurora/xacct-orders-data-api-access",
                     "arn:aws:iam::PROVIDER:role/xacct-orders-data-api-access",
                     "arn:aws:iam::PROVIDER:role/xacct/eu-west-1/*/xacct-orders-data-api-access"}
    assert "ReadOtherDeploymentsGrants" not in doc


def test_a_cluster_id_given_in_capitals_matches_the_lowercase_arns_and_role_path():
    """RDS keeps cluster ids in lowercase (in its ARNs), and the access role's path uses the lowercase id."""
    doc = json.dumps(permissions.policy("provider", "all", permissions.Scope(name="orders", region="eu-west-1",
                                                                             cluster="Orders-Aurora")))
    assert "role/xacct/eu-west-1/orders-aurora/xacct-orders-data-api-access" in doc
    assert ":cluster:orders-aurora" in doc and "Orders-Aurora" not in doc


def test_adopted_principal_statements_only_when_asked():
    sids = {s["Sid"] for s in permissions.policy("consumer")["Statement"]}
    assert "AdoptedConsumerRoleOnlyWithConsumerRole" not in sids
    sids = {s["Sid"] for s in permissions.policy("consumer", "all", permissions.Scope(consumer_role="app"))["Statement"]}
    assert "AdoptedConsumerRoleOnlyWithConsumerRole" in sids and "AdoptedConsumerUserOnlyWithConsumerUser" not in sids


def test_a_chain_xacct_did_not_make_is_readable_by_doctor_only_when_named():
    """`--role-arn` / `--secret-arn` (doctor without a state file) grant doctor's reads on exactly those ARNs, for
    doctor (and all) only; setup gains nothing, and neither option grants the secret's value."""
    role, secret = "arn:aws:iam::222222222222:role/team/orders-data-api", \
        "arn:aws:secretsmanager:us-west-2:222222222222:secret:orders/db-AbCdEf"
    assert not {"ChainRoleOnlyWithRoleArn", "ChainSecretOnlyWithSecretArn"} & {
        s["Sid"] for s in permissions.policy("provider", "doctor")["Statement"]}
    res = CliRunner().invoke(cli, ["permissions", "--side", "provider", "--for", "doctor", "--output", "json",
                                   "--role-arn", role, "--secret-arn", secret])
    assert res.exit_code == 0, res.output
    chain = {s["Sid"]: s for s in json.loads(res.stdout)["Statement"] if s["Sid"].startswith("Chain")}
    assert chain["ChainRoleOnlyWithRoleArn"]["Resource"] == role
    assert "iam:SimulatePrincipalPolicy" in chain["ChainRoleOnlyWithRoleArn"]["Action"]
    assert chain["ChainSecretOnlyWithSecretArn"]["Resource"] == secret
    assert "secretsmanager:GetSecretValue" not in json.dumps(chain)
    setup = permissions.policy("provider", "setup", permissions.Scope(role_arn=role, secret_arn=secret))
    assert role not in json.dumps(setup) and secret not in json.dumps(setup)


def test_cli_prints_the_generated_policy():
    res = CliRunner().invoke(cli, ["permissions", "--side", "provider", "--for", "teardown", "--output", "json",
                                   "--region", "cn-north-1", "--name", "orders"])
    assert res.exit_code == 0, res.output
    scope = permissions.Scope(region="cn-north-1", partition="aws-cn", name="orders")
    assert json.loads(res.stdout) == permissions.policy("provider", "teardown", scope)
    assert "arn:aws-cn:" in res.stdout and "arn:aws:" not in res.stdout


@pytest.mark.parametrize("args", [["--side", "both"], ["--side", "provider", "--for", "deploy"],
                                  ["--side", "consumer", "--name", "bad_name!"],
                                  ["--side", "provider", "--role-arn", "orders-data-api"],
                                  ["--side", "provider", "--secret-arn", "arn:aws:iam::222222222222:role/r"],
                                  ["--side", "consumer", "--vpc", "vpc-0123456789abcdef0,vpc-*"],
                                  ["--side", "consumer", "--vpc", "vpc-0123456789abcdef0,"]])
def test_cli_rejects_bad_options(args):
    res = CliRunner().invoke(cli, ["permissions", *args])
    assert res.exit_code == 2, res.output


def test_several_vpcs_for_a_move_each_named_where_a_statement_names_the_vpc():
    """A move takes the operator into a second VPC: `--vpc OLD,NEW` names both wherever a statement names the VPC
    (DescribeVpcAttribute, CreateVpcEndpoint's VPC), and nothing else changes."""
    old, new = "vpc-0123456789abcdef0", "vpc-0fedcba9876543210"
    one = permissions.policy("consumer", "all", permissions.Scope(consumer="111111111111", vpc=old))
    both = permissions.policy("consumer", "all", permissions.Scope(consumer="111111111111", vpc=f"{old},{new}"))
    vpc_arns = lambda doc: {r for st in doc["Statement"] for r in ([st["Resource"]] if isinstance(  # noqa: E731
        st["Resource"], str) else st["Resource"]) if ":vpc/" in r}
    assert vpc_arns(one) == {f"arn:aws:ec2:REGION:111111111111:vpc/{old}"}
    assert vpc_arns(both) == {f"arn:aws:ec2:REGION:111111111111:vpc/{v}" for v in (old, new)}
    assert [st["Sid"] for st in one["Statement"]] == [st["Sid"] for st in both["Statement"]]
    res = CliRunner().invoke(cli, ["permissions", "--side", "consumer", "--vpc", f"{old},{new}", "--output", "json"])
    assert res.exit_code == 0, res.output
    assert vpc_arns(json.loads(res.stdout)) == {f"arn:aws:ec2:REGION:CONSUMER:vpc/{v}" for v in (old, new)}


class _Iam:
    """list_roles answers `roles` for the cluster's path, or fails with `code`."""

    def __init__(self, roles=(), code: str | None = None):
        self.roles, self.code, self.asked = list(roles), code, []

    def get_paginator(self, name):
        def paginate(**params):
            from botocore.exceptions import ClientError

            self.asked.append((name, params))
            if self.code:
                raise ClientError({"Error": {"Code": self.code, "Message": "m"}}, "ListRoles")
            return [{"Roles": self.roles}]

        return SimpleNamespace(paginate=paginate)


def test_other_deployments_are_the_roles_under_the_clusters_path():
    """Teardown asks only for the cluster's path; a role there other than its own is another deployment. An
    AccessDenied is not taken for "nobody else uses the cluster" (the Data API would go off under them)."""
    from botocore.exceptions import ClientError

    from xacct_dataapi.steps.data_api import other_deployments_on_cluster

    path = "/xacct/r/c/"
    iam = _Iam([{"RoleName": "xacct-mine-data-api-access", "Path": path},
                {"RoleName": "xacct-other-data-api-access", "Path": path},
                {"RoleName": "hand-made", "Path": path + "deeper/"}])
    assert other_deployments_on_cluster(iam, "arn:aws:rds:r:1:cluster:c", "mine") == ["other"]
    assert iam.asked == [("list_roles", {"PathPrefix": path, "PaginationConfig": {"PageSize": 1000}})]
    with pytest.raises(ClientError):
        other_deployments_on_cluster(_Iam(code="AccessDenied"), "arn:aws:rds:r:1:cluster:c", "mine")


@pytest.mark.parametrize("kind, option", [("user", "consumer_user"), ("role", "consumer_role")])
def test_an_adopted_principal_at_an_iam_path_is_covered_and_no_other(kind, option):
    """IAM ARNs carry the path (user/team/app): the adopted principal's statement covers it at any path, and only it
    (a name is unique in its account and holds no "/")."""
    from xacct_dataapi.policy_eval.decide import ALLOW, Principal, Question, decide

    consumer = "111111111111"
    doc = permissions.policy("consumer", "setup", permissions.Scope(consumer=consumer, **{option: "app"}))
    operator = Principal(f"arn:aws:iam::{consumer}:user/op", consumer, f"arn:aws:iam::{consumer}:user/op", (doc,))
    action = "iam:GetUser" if kind == "user" else "iam:GetRole"

    def allowed(arn: str) -> bool:
        return decide(Question(operator, action, arn, resource_account=consumer)).decision == ALLOW

    assert allowed(f"arn:aws:iam::{consumer}:{kind}/app")
    assert allowed(f"arn:aws:iam::{consumer}:{kind}/team/app")
    assert allowed(f"arn:aws:iam::{consumer}:{kind}/team/sub/app")
    assert not allowed(f"arn:aws:iam::{consumer}:{kind}/team/app2")
    assert not allowed(f"arn:aws:iam::{consumer}:{kind}/team/other")
