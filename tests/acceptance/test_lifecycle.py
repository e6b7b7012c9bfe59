"""The acceptance lifecycle, written once against the `xacct` CLI: in the sandbox by default (one per module, `make
test`), on two real AWS accounts with XACCT_ACC=1 (docs/aws-acceptance.md). xacct runs as the world's operators,
who hold only `xacct permissions` output; every check reads AWS through the target's administrator profiles."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.acceptance.__main__ import new_run_id, target_from_environment
from tests.acceptance.leftovers import xacct_resources
from tests.acceptance.sweeper import inventory, sweep
from tests.acceptance.target import (PROGRESS_VAR, RUN_ID_VAR, SANDBOX_VAR, YES_VAR, OptInIncomplete, is_loopback,
                                     opted_in)
from tests.acceptance.world import TAG, World, deployment_names
from tests.helpers.inventory import tags_of
from xacct_dataapi.steps.endpoint_members import read as endpoint_members

pytestmark = pytest.mark.server
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def target():
    try:
        aws = opted_in(os.environ)
    except OptInIncomplete as e:
        pytest.exit(str(e), returncode=2)
    if aws and os.environ.get(YES_VAR) != "1":
        pytest.exit("Real AWS costs money: run `make acceptance` (it shows what the run creates, how long it takes "
                    f"and its estimated cost, and asks) or set {YES_VAR}=1.", returncode=2)
    with target_from_environment() as found:
        yield found


def progress(step: str) -> None:
    """Each finished step, appended to XACCT_ACC_PROGRESS (the killed-run test waits for one) and printed."""
    print(f"acceptance: {step} done at {time.monotonic():.1f}", flush=True)
    if os.environ.get(PROGRESS_VAR):
        with open(os.environ[PROGRESS_VAR], "a") as out:
            out.write(step + "\n")


@pytest.fixture(scope="module")
def world(target):
    world = World(target, new_run_id())
    print(world.plan())
    with world.existing(progress):
        yield world


def endpoints_in(ec2, vpc_id: str) -> list[dict]:
    eps = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [e for e in eps["VpcEndpoints"] if str(e["State"]).lower() not in ("deleted", "deleting")]


def xacct_groups_in(ec2, vpc_id: str) -> list[str]:
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [g["GroupId"] for g in groups["SecurityGroups"] if g["GroupName"] != "default"]


def test_lifecycle(target, world):
    """setup → status → connect → verify as the application → doctor → a VPC move (replaces the endpoint and
    its group) → a second deployment joining the endpoint → teardown of both → nothing left, by tag."""
    built, (a, b) = world.built, world.deployments
    assert target.aws or is_loopback(target.endpoint_url)  # no XACCT_ACC: the sandbox, on 127.0.0.1
    (vpc1, subnets1), (vpc2, subnets2) = built.vpcs
    ec2 = target.client(target.consumer_profile, "ec2")

    def members_of(endpoint: dict) -> dict:
        """The deployments AWS shows as the endpoint's members (their facts on their own groups)."""
        return endpoint_members(ec2, endpoint["VpcEndpointId"])[1]
    consumer_iam, provider_iam = (target.client(p, "iam") for p in (target.consumer_profile, target.provider_profile))
    ops = built.operator_profiles

    def setup(name: str, vpc: str, subnets: list[str], *extra: str):
        return target.xacct("setup", "--consumer-profile", ops["consumer"], "--provider-profile", ops["provider"],
                            "--region", target.region, "--cluster", world.cluster_id, "--vpc", vpc,
                            "--subnets", ",".join(subnets), "--enable-data-api", "--db-user", world.db_user,
                            "--name", name, "--yes", *extra, password=world.db_password)

    def state(name: str) -> dict:
        return json.loads((target.workdir / ".xacct" / f"{name}.json").read_text())

    # setup, adopting the application's own IAM user as the consumer principal.
    setup(a, vpc1, subnets1, "--consumer-user", world.app_user)
    progress("setup")
    (endpoint,) = endpoints_in(ec2, vpc1)
    assert endpoint["ServiceName"] == f"com.amazonaws.{target.region}.rds-data" and endpoint["PrivateDnsEnabled"]
    assert sorted(endpoint["SubnetIds"]) == sorted(subnets1)
    assert a in members_of(endpoint)
    role_arn = state(a)["values"]["access_role_arn"]
    role = provider_iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    assert tags_of(role.get("Tags"))["xacct:deployment"] == a
    assert consumer_iam.list_user_policies(UserName=world.app_user)["PolicyNames"], "no grant on the app"

    status = json.loads(target.xacct("status", "--name", a, "--output", "json").stdout)
    assert {s["status"] for s in status["steps"]} == {"done"}, status["steps"]
    progress("status")

    # connect: the application's profile, written into the suite's AWS config, chained from the app's own key.
    target.xacct("connect", "--name", a, "--format", "profile", "--source-profile", built.app_profile, "--write")
    app = target.session(f"xacct-{a}")
    assert app.client("sts").get_caller_identity()["Arn"].startswith(
        f"arn:aws:sts::{built.provider_account}:assumed-role/{role['RoleName']}/")
    values = state(a)["values"]
    rows = app.client("rds-data").execute_statement(resourceArn=values["cluster_arn"], secretArn=values["secret_arn"],
                                                    database=values["database"], sql="SELECT current_user")["records"]
    assert rows == [[{"stringValue": world.db_user}]]
    # verify, as the application's own identity.
    verified = json.loads(target.xacct("verify", "--name", a, "--as-profile", built.app_profile,
                                       "--output", "json").stdout)
    assert verified["rows"] == [[world.db_user]]
    assert verified["principal"] == f"arn:aws:iam::{built.consumer_account}:user/{world.app_user}", verified
    progress("verify")

    checks = {c["id"]: c for c in json.loads(target.xacct("doctor", "--name", a, "--output", "json").stdout)["checks"]}
    assert checks["iam.simulate"]["status"] == "ok", checks["iam.simulate"]
    assert not [c for c in checks.values() if c["status"] == "fail"], checks
    progress("doctor")

    # A change that replaces: the deployment moves to the other VPC; the endpoint and its group are made there and
    # the old ones deleted. With the move, the access role is confined to the new endpoint (--require-private-path).
    old_group = xacct_groups_in(ec2, vpc1)
    assert old_group
    setup(a, vpc2, subnets2, "--consumer-user", world.app_user, "--require-private-path")
    assert endpoints_in(ec2, vpc1) == [] and xacct_groups_in(ec2, vpc1) == []
    (moved,) = endpoints_in(ec2, vpc2)
    assert moved["VpcEndpointId"] != endpoint["VpcEndpointId"] and sorted(moved["SubnetIds"]) == sorted(subnets2)
    recorded = {r["kind"]: r["id"] for r in state(a)["resources"]}
    assert recorded["vpc_endpoint"] == moved["VpcEndpointId"]
    # The application's statement, from outside the VPC, is now refused; from inside it runs (the sandbox's
    # /_vpc/VPC/ADDRESS path; on AWS that needs a probe in the subnets, not built yet: docs/aws-acceptance.md).
    statement = {"resourceArn": values["cluster_arn"], "secretArn": values["secret_arn"],
                 "database": values["database"], "sql": "SELECT current_user"}
    with pytest.raises(ClientError) as outside:
        app.client("rds-data").execute_statement(**statement)
    assert outside.value.response["Error"]["Code"] == "AccessDeniedException", outside.value.response
    if not target.aws:
        inside = app.client("rds-data", endpoint_url=f"{target.endpoint_url}/_vpc/{vpc2}/10.62.1.10")
        assert inside.execute_statement(**statement)["records"] == [[{"stringValue": world.db_user}]]
    progress("replace")

    # A second deployment in the same VPC joins the endpoint (one rds-data endpoint per VPC: private DNS).
    setup(b, vpc2, subnets2)
    (shared,) = endpoints_in(ec2, vpc2)
    assert shared["VpcEndpointId"] == moved["VpcEndpointId"]
    assert {a, b} <= set(members_of(shared))
    progress("second deployment")

    target.xacct("teardown", "--name", b, "--yes")
    (still,) = endpoints_in(ec2, vpc2)
    assert b not in members_of(still) and a in members_of(still)
    target.xacct("teardown", "--name", a, "--yes")
    assert xacct_resources(target, (a, b)) == []
    assert consumer_iam.list_user_policies(UserName=world.app_user)["PolicyNames"] == []
    progress("teardown")

    report = world.destroy()
    assert report["failed"] == [] and report["kept"] == [], report
    assert inventory(target, world.run_id) == []
    progress("world deleted")


def test_a_run_killed_midway_is_swept(target):
    """A run in its own process, killed (SIGKILL: no clean-up runs) once its world exists and its first deployment
    is set up; the sweeper (`python -m tests.acceptance.sweeper --run-id ID --yes`) then removes every resource the
    run tagged, and the deployment xacct made."""
    if target.aws:
        pytest.skip("sandbox only: it kills a run on purpose")
    run_id = "k" + new_run_id()[:5]
    done = target.workdir / f"progress-{run_id}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "XACCT_"))}
    env.update({SANDBOX_VAR: str(target.sandbox_dir), RUN_ID_VAR: run_id, PROGRESS_VAR: str(done)})
    child = subprocess.Popen([sys.executable, "-m", "pytest", f"{__file__}::test_lifecycle", "-q", "-x",
                              "-p", "no:cacheprovider"], env=env, cwd=REPO, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while "setup" not in (done.read_text().split() if done.exists() else []):
            assert child.poll() is None, f"the run ended before it was killed:\n{child.stdout.read()}"
            assert time.monotonic() < deadline, "the run did not set up its first deployment in 120 s"
            time.sleep(0.1)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the run and any xacct it was running
        child.communicate()
    left = inventory(target, run_id)
    kinds = {line.split(" ", 1)[1].rsplit(" ", 2)[0] for line in left}
    assert kinds >= {"vpc", "subnet", "db cluster", "db instance", "iam user", "iam role", "iam policy"}, left
    assert xacct_resources(target, deployment_names(run_id)), "the killed run's deployment should still exist"

    # The sweeper as the maintainer runs it after a killed run (docs/aws-acceptance.md), here on the sandbox.
    swept = subprocess.run([sys.executable, "-m", "tests.acceptance.sweeper", "--run-id", run_id, "--yes"],
                           env={**env, PROGRESS_VAR: "", RUN_ID_VAR: ""}, cwd=REPO, capture_output=True, text=True,
                           timeout=180)
    assert swept.returncode == 0, swept.stdout + swept.stderr  # 1 when anything could not be deleted
    assert "no longer tagged" not in swept.stderr and "Traceback" not in swept.stderr, swept.stderr
    assert all(line in swept.stdout for line in left)  # what it found, listed before deleting
    assert f"xacct teardown --name {deployment_names(run_id)[0]}: exit 0" in swept.stdout
    assert inventory(target, run_id) == []
    assert xacct_resources(target, deployment_names(run_id)) == []
    assert all(f"{TAG}={run_id}" in line for line in left)


def test_the_sweeper_deletes_only_what_still_carries_the_run_tag(target):
    """The tag is read again right before each delete: a VPC untagged while the sweep runs (after the listing: the
    sweep's report of the subnet it deleted first is the pause) is kept; another run's VPC is never touched."""
    if target.aws:
        pytest.skip("sandbox only: it untags a resource in the middle of a sweep")
    ec2 = target.client(target.consumer_profile, "ec2")
    run_id = "s" + new_run_id()[:5]

    def tagged(kind: str, run: str) -> list[dict]:
        return [{"ResourceType": kind, "Tags": [{"Key": TAG, "Value": run}]}]

    untagged_midway = ec2.create_vpc(CidrBlock="10.71.0.0/16", TagSpecifications=tagged("vpc", run_id))["Vpc"]["VpcId"]
    other_run = ec2.create_vpc(CidrBlock="10.72.0.0/16", TagSpecifications=tagged("vpc", "o" + run_id))["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=untagged_midway, CidrBlock="10.71.1.0/24",
                               TagSpecifications=tagged("subnet", run_id))["Subnet"]["SubnetId"]

    def meanwhile(line: str) -> None:
        if subnet in line:
            ec2.delete_tags(Resources=[untagged_midway], Tags=[{"Key": TAG}])

    report = sweep(target, run_id, say=meanwhile)
    assert report == {"deleted": [f"consumer subnet {subnet}"], "failed": [],
                      "kept": [f"consumer vpc {untagged_midway}: no longer tagged {TAG}={run_id}"]}
    assert {v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[untagged_midway, other_run])["Vpcs"]} == {untagged_midway,
                                                                                                  other_run}
    assert ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["Subnets"] == []
    for vpc_id in (untagged_midway, other_run):
        ec2.delete_vpc(VpcId=vpc_id)


def test_a_world_that_fails_midway_is_deleted(target, monkeypatch):
    """Creating the world fails once the cluster, its writer and the VPCs exist: all of it is deleted anyway."""
    if target.aws:
        pytest.skip("sandbox only: it breaks the world's creation on purpose")
    world = World(target, "f" + new_run_id()[:5])

    def refuse(_iam):
        assert inventory(target, world.run_id), "nothing was made before the failure"
        raise RuntimeError("the application's user could not be made")

    monkeypatch.setattr(world, "_create_app_user", refuse)
    with pytest.raises(RuntimeError, match="could not be made"):
        with world.existing():
            pass
    assert len(world.built.vpcs) == 2
    assert inventory(target, world.run_id) == []
    rds = target.client(target.provider_profile, "rds")
    assert world.cluster_id not in {c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]}
