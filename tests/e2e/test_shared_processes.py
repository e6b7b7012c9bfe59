"""Three operators on three "machines" (separate processes, each with its own working directory and so its own state
and lock files) set up three deployments in one VPC at the same moment, then tear them down at the same moment,
against `xacct sandbox up --realistic` (endpoints pending, interfaces lingering). Nothing coordinates them but AWS:
the sandbox refuses a second private-DNS endpoint as AWS does (sandbox/limits.py), and xacct joins the winner."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.test_cli_server import clean_env, served_sandbox, sessions, setup_args, xacct_cmd
from xacct_dataapi.steps.endpoint_members import read

pytestmark = pytest.mark.server
NAMES = ("east", "west", "north")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    yield from served_sandbox(tmp_path_factory.mktemp("e2e-shared"), "--realistic", "--latency-ms", "5",
                              "--time-scale", "0.05")


def at_once(info, home, commands: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess]:
    """One process per machine (its own directory), all started before any is awaited."""
    env = clean_env({**info.env(), "XACCT_DB_PASSWORD": info.db_password()})  # the sandbox DB checks it
    procs = {}
    for machine, args in commands.items():
        (home / machine).mkdir(exist_ok=True)
        procs[machine] = subprocess.Popen([*xacct_cmd(), *args], env=env, cwd=home / machine, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = {}
    for machine, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        done[machine] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


def live_endpoints(ec2, vpc_id: str) -> list[dict]:
    found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    return [e for e in found if e["State"].lower() not in ("deleted", "deleting")]


def xacct_groups(ec2, vpc_id: str) -> list[str]:
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    return [g["GroupId"] for g in groups if any(t["Key"] == "xacct:deployment" for t in g.get("Tags", []))]


def test_three_machines_set_up_and_tear_down_in_one_vpc_at_once(sandbox, monkeypatch):
    info, home, _ = sandbox
    consumer, provider = sessions(info, monkeypatch)
    ec2 = consumer.client("ec2")

    results = at_once(info, home, {f"machine-{n}": [*setup_args(info, n), "--yes"] for n in NAMES})
    assert all(r.returncode == 0 for r in results.values()), {m: r.stdout[-800:] + r.stderr for m, r in results.items()}
    (ep,) = live_endpoints(ec2, info.vpc_id)  # was: three endpoints with private DNS
    members = read(ec2, ep["VpcEndpointId"])[1]
    assert set(members) == set(NAMES)  # each member's facts on its own group
    (statement,) = json.loads(ep["PolicyDocument"])["Statement"]  # one cluster: one statement, whatever the members
    assert statement["Condition"]["ArnLike"]["aws:PrincipalArn"].endswith(
        f"/xacct/{info.region}/{info.cluster_id}/xacct-*-data-api-access") and statement["Resource"].endswith(
        f":cluster:{info.cluster_id}")
    # The losers of the create race keep their groups as member groups (attached to nothing).
    assert sorted(xacct_groups(ec2, info.vpc_id)) == sorted({m.group_id for m in members.values()})
    assert [g["GroupId"] for g in ep["Groups"]] in [[m.group_id] for m in members.values()]
    statuses = at_once(info, home, {f"machine-{n}": ["status", "--name", n, "--output", "json"] for n in NAMES})
    assert all(r.returncode == 0 for r in statuses.values()), {m: r.stdout[-800:] for m, r in statuses.items()}

    results = at_once(info, home, {f"machine-{n}": ["teardown", "--name", n, "--yes"] for n in NAMES})
    assert all(r.returncode == 0 for r in results.values()), {m: r.stdout[-800:] + r.stderr for m, r in results.items()}
    assert live_endpoints(ec2, info.vpc_id) == [] and xacct_groups(ec2, info.vpc_id) == []  # was: left behind
    cluster = provider.client("rds").describe_db_clusters(DBClusterIdentifier=info.cluster_id)["DBClusters"][0]
    assert cluster["HttpEndpointEnabled"] is False  # the last one out turned the Data API off
