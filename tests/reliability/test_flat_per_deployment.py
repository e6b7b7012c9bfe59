"""verify and doctor of one deployment make the same requests, operation by operation, whether or not other
deployments share its VPC, cluster and accounts (issue 27; benchmarks/scale.py measures them with 49 and 499 others
at 100 ms a request). In-process moto, counted per account and operation (tests/helpers/counting.py)."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.helpers.counting import RequestCounter
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")
OTHERS = 2


def xacct(*args: str) -> None:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output


def requests_of(counter: RequestCounter) -> dict:
    out = {}
    for command in ("verify", "doctor"):
        counter.take()
        xacct(command, "--name", "target")
        out[command] = counter.take()
    return out


def test_verify_and_doctor_cost_the_same_with_others_in_the_vpc(world, password, monkeypatch):
    counter = RequestCounter().install(monkeypatch)
    xacct(*world.setup_args("--enable-data-api", "--yes", name="target"))
    alone = requests_of(counter)
    for i in range(OTHERS):  # they join the target's endpoint and use its cluster
        xacct(*world.setup_args("--yes", name=f"other{i}"))
    crowded = requests_of(counter)
    assert sum(alone["verify"].values()) > 5 and sum(alone["doctor"].values()) > 10  # they did read AWS
    for command in ("verify", "doctor"):
        assert alone[command] == crowded[command], {
            op: (alone[command][op], crowded[command][op]) for op in set(alone[command]) | set(crowded[command])
            if alone[command][op] != crowded[command][op]}


def test_teardown_reads_one_page_of_roles_however_many_share_the_cluster():
    """Whether another deployment uses the cluster is decided by the first page of ListRoles that shows one: with
    hundreds of roles under the cluster's path (pages of at most 1,000) the next page is never asked for, and the
    note names a few of them, not all."""
    import boto3
    from botocore.stub import Stubber

    from xacct_dataapi.config import Names
    from xacct_dataapi.steps.data_api import other_deployments_on_cluster, some_of

    path = Names.access_role_path("orders-aurora", "us-west-2")
    roles = [{"Path": path, "RoleName": Names(f"d{i:03d}").access_role, "RoleId": f"AROA{i:017d}",
              "Arn": f"arn:aws:iam::222222222222:role{path}{Names(f'd{i:03d}').access_role}",
              "CreateDate": "2026-12-07T00:00:00Z"} for i in range(5)]
    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(iam) as stub:  # a second page would fail: no answer is queued for it
        stub.add_response("list_roles", {"Roles": roles, "IsTruncated": True, "Marker": "next"},
                          {"PathPrefix": path, "MaxItems": 1000})
        others = other_deployments_on_cluster(iam, "arn:aws:rds:us-west-2:222222222222:cluster:orders-aurora", "d000")
        stub.assert_no_pending_responses()
    assert others == ["d001", "d002", "d003", "d004"]
    assert some_of(others) == "d001, d002, d003 and 1 more"
