"""60 deployments in one VPC (issue 27), against in-process moto with the sandbox's limits (an endpoint policy of
at most 20,480 characters, 50 tags a resource, 256 characters a tag value). Each is set up, its status read and it
is torn down; after every setup and teardown AWS shows one endpoint whose policy admits exactly xacct's access roles
on the clusters of the live members (checked by evaluating the policy for every live member's role and for roles
that must not pass), and whose members are exactly the live deployments. The requests of the per-deployment commands
are counted: the same for the 1st and the 60th member (paging aside: none here, a page holds 1,000 groups)."""
from __future__ import annotations

import json
from collections import Counter
from fnmatch import fnmatchcase

import pytest

from tests.helpers.counting import RequestCounter
from tests.helpers.inventory import live_endpoints, xacct_security_groups
from tests.helpers.operators import grant, least_privilege
from tests.helpers.pipeline import apply_setup, apply_teardown, plan_for
from tests.helpers.world import seed
from xacct_dataapi import policies
from xacct_dataapi import state as state_mod
from xacct_dataapi.aws import Sessions
from xacct_dataapi.config import Config, Names, state_path_for
from xacct_dataapi.context import build_context
from xacct_dataapi.planner import plan_setup
from xacct_dataapi.steps.endpoint_members import POLICY_MAX, read

pytestmark = pytest.mark.usefixtures("fast_aws")
COUNT = 60
PASSWORD = "s3cret-Passw0rd-never-logged"
CLUSTERS = ("orders-aurora", "billing-aurora", "search-aurora")  # the members spread over three clusters


def config(world, name: str, cluster: str) -> Config:
    return Config(name=name, consumer_profile="consumer", provider_profile="provider", cluster=cluster,
                  vpc_id=world.vpc_id, subnet_ids=world.subnet_ids).validate()


def role_of(name: str, cluster: str) -> str:
    return policies.role_arn("222222222222", Names(name).access_role, "aws",
                             Names.access_role_path(cluster, "us-west-2"))


def admits(doc: dict, role: str, cluster_arn: str) -> bool:
    """The endpoint policy lets `role` call ExecuteStatement on the cluster (ArnLike as IAM evaluates it: `*` matches
    any characters, `/` included)."""
    return any(cluster_arn == s["Resource"] and fnmatchcase(role, s["Condition"]["ArnLike"]["aws:PrincipalArn"])
               and "rds-data:ExecuteStatement" in s["Action"] for s in doc["Statement"])


def assert_admits_exactly(world, arns: dict[str, str], live: dict[str, str]) -> None:
    found = live_endpoints(world.consumer, world.vpc_id)
    if not live:
        assert found == [] and xacct_security_groups(world.consumer, world.vpc_id) == []
        return
    (ep,) = found
    assert len(ep["PolicyDocument"]) <= POLICY_MAX and len(ep["Tags"]) <= 4  # no tag per member
    assert set(read(world.consumer.client("ec2"), ep["VpcEndpointId"])[1]) == set(live)
    doc = json.loads(ep["PolicyDocument"])
    in_use = {live[n] for n in live}
    for cluster in CLUSTERS:
        for name in ("z-someone-else", *live):
            assert admits(doc, role_of(name, cluster), arns[cluster]) == (cluster in in_use), (name, cluster)
        # Not xacct's access role, or not under the cluster's path, or another cluster's role: never admitted.
        assert not admits(doc, f"arn:aws:iam::222222222222:role/xacct/us-west-2/{cluster}/admin", arns[cluster])
        assert not admits(doc, f"arn:aws:iam::222222222222:role/{Names('a').access_role}", arns[cluster])
        other = next(c for c in CLUSTERS if c != cluster)
        assert not admits(doc, role_of("a", other), arns[cluster])


@pytest.mark.timeout(900)  # ~180 setups, statuses and teardowns in moto: minutes on a loaded 2-CPU machine
def test_sixty_deployments_in_one_vpc(sessions, monkeypatch):
    with least_privilege(seed(*sessions, data_api_on=True)) as world:  # xacct as least-privilege operators
        rds = world.provider.client("rds")
        arns = {world.cluster_id: world.cluster_arn}
        for cluster in CLUSTERS[1:]:
            arns[cluster] = rds.create_db_cluster(
                DBClusterIdentifier=cluster, Engine="aurora-postgresql", EngineVersion="11.13", EngineMode="serverless",
                MasterUsername="postgres", MasterUserPassword="seed-password-3", EnableHttpEndpoint=True,
            )["DBCluster"]["DBClusterArn"]
        grant(world, clusters=CLUSTERS)  # the administrator's `xacct permissions --cluster` for each
        sixty_deployments(world, arns, monkeypatch)


def sixty_deployments(world, arns: dict[str, str], monkeypatch) -> None:
    counter = RequestCounter().install(monkeypatch)
    names = {f"d{i:02d}": CLUSTERS[i % 2 if i < COUNT - 1 else 2] for i in range(COUNT)}  # the last on a third
    live: dict[str, str] = {}
    setups, statuses = {}, {}
    for name, cluster in names.items():
        path = state_path_for(name)
        ctx, plan = plan_for(config(world, name, cluster), PASSWORD, path)
        apply_setup(ctx, plan, path, sleep=lambda s: None)
        setups[name] = counter.take()
        live[name] = cluster
        ctx = build_context(config(world, name, cluster), Sessions.from_profiles("consumer", "provider", None),
                            state_mod.load(path), lambda: PASSWORD)
        assert not plan_setup(ctx).changes, name  # `xacct status` would say done
        statuses[name] = counter.take()
        if len(live) in (1, 2, 30, COUNT - 1, COUNT):
            assert_admits_exactly(world, arns, live)
    teardowns = {}
    for name in names:
        apply_teardown(state_path_for(name), sleep=lambda s: None)
        teardowns[name] = counter.take()
        del live[name]
        if len(live) in (COUNT - 1, 30, 2, 1, 0):  # at 2: d57, the last on its cluster, took its statement along
            assert_admits_exactly(world, arns, live)
    # Flat: the 2nd joiner on a cluster and the 58th make the same requests (the first made the endpoint; the
    # 60th joins on a new cluster, one policy write more); status the same from the 2nd to the 60th; teardowns of
    # members that leave others on their cluster behind the same, whoever made the endpoint (the last on a cluster
    # rewrites the policy without it: one ModifyVpcEndpoint and one more read round).
    assert setups["d02"] == setups["d57"], diff(setups["d02"], setups["d57"])
    assert statuses["d01"] == statuses["d30"] == statuses["d59"], diff(statuses["d01"], statuses["d59"])
    assert teardowns["d01"] == teardowns["d30"] == teardowns["d55"], diff(teardowns["d01"], teardowns["d55"])
    assert teardowns["d57"]["consumer:ec2.ModifyVpcEndpoint"] == 1 and teardowns["d55"]["consumer:ec2.ModifyVpcEndpoint"] == 0


def diff(a: Counter, b: Counter) -> dict:
    return {k: (a[k], b[k]) for k in set(a) | set(b) if a[k] != b[k]}


def test_the_sandbox_evaluates_the_policy_on_the_roles_arn_with_its_path():
    """The sandbox's evaluator (as for every request through the endpoint: sandbox/authz/enforce.py puts the role's
    ARN, path included, in aws:PrincipalArn) admits xacct's access role under the cluster's path, and refuses the same
    name at `/`, another cluster's role, and another role under the path."""
    from xacct_dataapi.policy_eval.decide import ALLOW, IMPLICIT_DENY, Principal, Question, decide
    from xacct_dataapi.steps.endpoint_members import MemberFacts, policy_for

    orders = "arn:aws:rds:us-west-2:222222222222:cluster:orders-aurora"
    billing = "arn:aws:rds:us-west-2:222222222222:cluster:billing-aurora"
    doc = policy_for({"a": MemberFacts(orders), "b": MemberFacts(billing)})
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

    def through_endpoint(role_arn: str, cluster: str) -> str:
        name = role_arn.rsplit("/", 1)[1]
        who = Principal(f"arn:aws:sts::222222222222:assumed-role/{name}/s", "222222222222", role_arn, (allow_all,))
        return decide(Question(who, "rds-data:ExecuteStatement", cluster, {"aws:principalarn": [role_arn]},
                               resource_account="222222222222", endpoint_policy=doc)).decision

    assert through_endpoint(role_of("zeta", "orders-aurora"), orders) == ALLOW
    assert through_endpoint(role_of("zeta", "billing-aurora"), billing) == ALLOW
    assert through_endpoint(role_of("zeta", "billing-aurora"), orders) == IMPLICIT_DENY
    assert through_endpoint(f"arn:aws:iam::222222222222:role/{Names('zeta').access_role}", orders) == IMPLICIT_DENY
    assert through_endpoint("arn:aws:iam::222222222222:role/xacct/us-west-2/orders-aurora/admin", orders) == IMPLICIT_DENY
    assert through_endpoint(role_of("zeta", "search-aurora"), orders) == IMPLICIT_DENY
