"""The access role under the cluster's IAM path (issue 12), against moto.

- Teardown of the deployment that turned the Data API on finds the other deployments on the cluster with one
  ListRoles(PathPrefix): its requests do not grow with their number, and the Data API stays on while one exists,
  or while a deployment set up before the path (its role at `/`) may use it.
- The role is created at `/xacct/<region>/<cluster-id>/`, and every policy names it by the ARN with that path.
- A role made before the path (at `/`) is replaced in one setup step, and the policies naming it are rewritten.
"""
from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from tests.helpers.accounts import PROVIDER, REGION
from tests.helpers.counting import teardown_requests
from tests.helpers.inventory import assert_nothing_left, assert_policies_name_the_role, data_api_on, roles
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import grant, world_of_operators  # noqa: F401 (the `world` fixture)
from tests.steps.test_steps_moto import Deployment, step_of
from xacct_dataapi import policies
from xacct_dataapi.config import Names
from xacct_dataapi.models import Action

pytestmark = pytest.mark.usefixtures("fast_aws")

NAME = "orders"
PATH = f"/xacct/{REGION}/orders-aurora/"
ARN = f"arn:aws:iam::{PROVIDER}:role{PATH}xacct-{NAME}-data-api-access"
# Every teardown reads the cluster, marks it while it decides (AddTagsToResource) and removes its mark
# (RemoveTagsFromResource, with the xacct:data-api-enabled-by tag in the same request when it turns the Data API
# off): those on each side. Turning it off adds the switch, the wait's read and the account's ListRoles.
SWITCH_OFF = Counter({"provider:rds.DescribeDBClusters": 1, "provider:rds.ModifyDBCluster": 1,
                      "provider:iam.ListRoles": 1})


def test_teardown_requests_do_not_grow_with_other_deployments(tmp_path):
    """Per operation, the same requests with 1 and with 5 other deployments on the cluster; with none, exactly the
    switch-off on top (the Data API is turned off then, and only then). Never a read per other deployment."""
    counts, on = {}, {}
    for others in (0, 1, 5):
        with pytest.MonkeyPatch.context() as mp:
            counts[others], on[others] = teardown_requests(tmp_path / f"others-{others}", others, mp)
    assert on == {0: False, 1: True, 5: True}  # what the cluster says after the teardown
    assert counts[1] == counts[5], (counts[1], counts[5])
    assert counts[0] - counts[1] == SWITCH_OFF and counts[1] - counts[0] == Counter()
    for c in counts.values():
        assert c["provider:iam.GetRolePolicy"] == 1, c  # its own inline policy, read once by the ownership check
    # One ListRoles under the cluster's path; with no deployment there, one of the account for roles made before it.
    assert [counts[n]["provider:iam.ListRoles"] for n in (0, 1, 5)] == [2, 1, 1]


def test_role_is_under_the_clusters_path_and_every_policy_names_it_so(world, password):
    dep = Deployment(world, password)
    dep.apply()
    role = world.provider.client("iam").get_role(RoleName=dep.names.access_role)["Role"]
    assert (role["Path"], role["Arn"]) == (PATH, ARN)
    assert dep.load().values["access_role_arn"] == ARN and dep.load().find("iam_role").arn == ARN
    assert_policies_name_the_role(world, NAME, ARN)
    # ListRoles under the path finds it (and only it): the lookup teardown makes.
    listed = world.provider.client("iam").list_roles(PathPrefix=PATH)["Roles"]
    assert [r["RoleName"] for r in listed] == [dep.names.access_role]


def legacy_setup(dep: Deployment, monkeypatch) -> None:
    """The deployment as an xacct before the path made it: the role at `/`, every policy naming that ARN."""
    with monkeypatch.context() as mp:
        mp.setattr(Names, "access_role_path", staticmethod(lambda cluster_id, region: "/"))
        dep.apply()


def test_role_at_the_root_path_is_replaced_and_the_policies_follow(world, password, monkeypatch):
    dep = Deployment(world, password)
    legacy_setup(dep, monkeypatch)
    iam = world.provider.client("iam")
    old = iam.get_role(RoleName=dep.names.access_role)["Role"]
    assert old["Path"] == "/"
    assert_policies_name_the_role(world, NAME, old["Arn"])
    external_id = dep.load().values["external_id"]

    ctx, plan = dep.plan()
    step = step_of(plan, 5)
    assert step.action is Action.REPLACE
    assert step.reason == f"role at path / → {PATH}: IAM cannot move a role; replaced"
    assert [c.label for c in step.calls] == ["iam:delete_role_with_policies", "iam:create_role", "iam:put_role_policy"]
    # The ARN changes, so the policies naming the role are rewritten in the same run; nothing else changes.
    changed = {s.key: s.action for s in plan.steps if s.calls}
    assert changed == {"endpoint": Action.REPAIR, "consumer_principal": Action.REPAIR, "key_policy": Action.REPAIR,
                       "access_role": Action.REPLACE, "secret_policy": Action.REPAIR}, changed

    _, runner = dep.apply(ctx, plan)
    assert runner.calls_made.count("iam.delete_role") == 1 and runner.calls_made.count("iam.create_role") == 1
    role = iam.get_role(RoleName=dep.names.access_role)["Role"]
    assert (role["Path"], role["Arn"]) == (PATH, ARN)
    state = dep.load()
    assert state.values["access_role_arn"] == ARN and state.find("iam_role").arn == ARN
    assert state.values["external_id"] == external_id  # the application keeps its external id
    assert policies.parse(role["AssumeRolePolicyDocument"])["Statement"][0]["Condition"]["StringEquals"] == {
        "sts:ExternalId": external_id}
    assert iam.list_role_policies(RoleName=dep.names.access_role)["PolicyNames"] == [dep.names.access_role_policy]
    assert_policies_name_the_role(world, NAME, ARN)
    # Nothing orphaned: one role of that name, at the new path; the state records each resource once.
    assert [(r["RoleName"], r["Path"]) for r in roles(world.provider)] == [(dep.names.access_role, PATH)]
    kinds = [(r.kind, r.id) for r in state.resources]
    assert len(kinds) == len(set(kinds)), kinds

    assert not dep.plan()[1].changes  # converged
    dep.teardown()
    assert_nothing_left(world)


def test_a_deployment_set_up_before_the_path_keeps_the_data_api_on_until_it_is_moved(world, password, monkeypatch):
    """A deployment whose role is still at `/` may use the cluster (which one is only in its policy, which teardown
    has no permission to read): the Data API stays on, and the note says how to finish. Re-running its setup moves
    its role under the path, where teardown sees it by name."""
    enabler = Deployment(world, password)
    enabler.apply()
    vpc, subnets = world.second_vpc()
    grant(world, vpcs=(world.vpc_id, vpc))  # `xacct permissions --vpc VPC_A,VPC_B`: the operator works in both
    other = Deployment(world, password, name="legacy")
    other.cfg = dataclasses.replace(other.cfg, vpc_id=vpc, subnet_ids=subnets)
    legacy_setup(other, monkeypatch)

    from xacct_dataapi.steps.data_api import deployments_before_the_path, other_deployments_on_cluster

    iam = world.provider.client("iam")
    assert other_deployments_on_cluster(iam, world.cluster_arn, NAME) == []
    assert deployments_before_the_path(iam, NAME) == ["legacy"]
    _, runner, _ = enabler.teardown()
    assert data_api_on(world)
    note = next(n for n in runner.notes if "Left the Data API on" in n)
    assert "legacy were set up by an older xacct" in note and "Re-run their `xacct setup`" in note
    assert f"aws rds disable-http-endpoint --resource-arn {world.cluster_arn}" in note

    other.apply()  # moves its role under the path
    assert deployments_before_the_path(iam, NAME) == []
    assert other_deployments_on_cluster(iam, world.cluster_arn, NAME) == ["legacy"]
    assert_policies_name_the_role(world, "legacy", ARN.replace(f"xacct-{NAME}-", "xacct-legacy-"), vpc)
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix=PATH)["Roles"]] == ["xacct-legacy-data-api-access"]


def test_the_replacement_deletes_the_old_role_only_while_aws_shows_it_is_this_deployments(world, password,
                                                                                          monkeypatch):
    """Between the plan and its delete, the role at `/` is re-tagged for another deployment (another operator, a
    hand edit): the guarded delete reads it again, refuses, and the role, its tags and its policy stay."""
    from xacct_dataapi.errors import StepFailed
    from xacct_dataapi.resource_types import NotOurs

    dep = Deployment(world, password)
    legacy_setup(dep, monkeypatch)
    iam = world.provider.client("iam")
    ctx, plan = dep.plan()
    (delete,) = [c for c in step_of(plan, 5).calls if c.label == "iam:delete_role_with_policies"]
    assert delete.guard == {"kind": "iam_role", "id": dep.names.access_role, "reads": "IAM role", "deployment": NAME,
                            "arn": f"arn:aws:iam::{PROVIDER}:role/{dep.names.access_role}"}

    iam.tag_role(RoleName=dep.names.access_role, Tags=[{"Key": "xacct:deployment", "Value": "someone-else"}])
    with pytest.raises((NotOurs, StepFailed)) as info:
        dep.apply(ctx, plan)
    assert dep.names.access_role in str(info.value) and "Not deleting" in str(info.value)
    role = iam.get_role(RoleName=dep.names.access_role)["Role"]
    assert role["Path"] == "/" and {"Key": "xacct:deployment", "Value": "someone-else"} in role["Tags"]
    assert iam.list_role_policies(RoleName=dep.names.access_role)["PolicyNames"] == [dep.names.access_role_policy]
    assert dep.load().find("iam_role", dep.names.access_role)  # still recorded: nothing was deleted
