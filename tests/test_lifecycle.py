"""Living with a deployment after its first setup (issue: changes converge without orphans, truthful status and
teardown): through the CLI in-process against moto, asserting on what exists in AWS afterwards."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.accounts import STATE
from tests.helpers.inventory import assert_nothing_left, live_endpoints, xacct_security_groups
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import grant, world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_changing_the_vpc_replaces_the_endpoint_and_leaves_nothing_behind(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    (old_sg,) = xacct_security_groups(world.consumer, world.vpc_id)
    (old_ep,) = live_endpoints(world.consumer, world.vpc_id)
    vpc_b, subnets_b = world.second_vpc()
    grant(world, vpc=vpc_b)  # the administrator's `xacct permissions --vpc VPC_B` for the move
    moved = world.args_in(world.setup_args("--enable-data-api", "--yes"), vpc_b, subnets_b)

    res = invoke([*moved, "--dry-run", "--output", "json"])
    assert res.exit_code == 0, res.output
    (step7,) = [s for s in json.loads(res.stdout)["steps"] if s["number"] == 7]
    assert step7["action"] == "replace"
    assert old_ep["VpcEndpointId"] in step7["reason"] and old_sg["GroupId"] in step7["reason"]
    assert [c["call"] for c in step7["calls"]][-2:] == ["ec2:delete_vpc_endpoint_and_wait",
                                                        "ec2:delete_security_group_when_released"]

    res = invoke(moved)
    assert res.exit_code == 0, res.output
    # The old VPC is empty again; the new one has exactly xacct's group and endpoint, and the state records those.
    assert xacct_security_groups(world.consumer, world.vpc_id) == []
    assert live_endpoints(world.consumer, world.vpc_id) == []
    (new_sg,) = xacct_security_groups(world.consumer, vpc_b)
    (new_ep,) = live_endpoints(world.consumer, vpc_b)
    recorded = {(r["kind"], r["id"]) for r in json.loads(Path(STATE).read_text())["resources"]}
    assert ("security_group", new_sg["GroupId"]) in recorded and ("vpc_endpoint", new_ep["VpcEndpointId"]) in recorded
    assert ("security_group", old_sg["GroupId"]) not in recorded and ("vpc_endpoint", old_ep["VpcEndpointId"]) not in recorded

    assert invoke(moved).exit_code == 0  # converged: a re-run is a no-op
    res = invoke(["teardown", "--yes"])
    assert res.exit_code == 0, res.output
    assert xacct_security_groups(world.consumer, vpc_b) == [] and live_endpoints(world.consumer, vpc_b) == []
    assert_nothing_left(world)


def test_an_endpoint_deleted_by_hand_is_looked_up_by_id_then_forgotten_and_recreated(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    (old_ep,) = live_endpoints(world.consumer, world.vpc_id)
    world.consumer.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[old_ep["VpcEndpointId"]])

    res = invoke(["status", "--output", "json"])
    assert res.exit_code == 1
    (step7,) = [s for s in json.loads(res.stdout)["steps"] if s["number"] == 7]
    assert step7["status"] == "missing"

    res = invoke(world.setup_args("--enable-data-api", "--yes"))
    assert res.exit_code == 0, res.output
    (new_ep,) = live_endpoints(world.consumer, world.vpc_id)
    assert new_ep["VpcEndpointId"] != old_ep["VpcEndpointId"]
    recorded = [r["id"] for r in json.loads(Path(STATE).read_text())["resources"] if r["kind"] == "vpc_endpoint"]
    assert recorded == [new_ep["VpcEndpointId"]]


def test_teardown_reports_what_was_already_gone_separately_from_what_it_deleted(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    iam, sm = world.provider.client("iam"), world.provider.client("secretsmanager")
    role = "xacct-default-data-api-access"
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    iam.delete_role(RoleName=role)
    sm.delete_secret(SecretId="xacct-default/db-credentials", ForceDeleteWithoutRecovery=True)

    res = invoke(["teardown", "--yes", "--output", "json"])
    assert res.exit_code == 0, res.output
    outcome = {(r["kind"], r["id"]): r["outcome"] for r in json.loads(res.stdout)["result"]["removed"]}
    assert outcome[("iam_role", role)] == "already gone"
    assert outcome[("iam_role_policy", f"{role}/xacct-default-data-api")] == "already gone"
    assert outcome[("secret", "xacct-default/db-credentials")] == "already gone"
    assert outcome[("kms_key_policy", next(k for kind, k in outcome if kind == "kms_key"))] == "went with its resource"
    deleted = [k for k, o in outcome.items() if o == "deleted"]
    assert ("vpc_endpoint", live_or_recorded_endpoint(outcome)) in deleted and len(deleted) == 7
    assert_nothing_left(world)

    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    res = invoke(["teardown", "--yes"])
    assert "already gone" not in res.output and "deleted" in res.output, res.output


def live_or_recorded_endpoint(outcome: dict) -> str:
    return next(i for kind, i in outcome if kind == "vpc_endpoint")


@pytest.mark.parametrize("command", ["setup", "teardown"])
def test_answering_no_is_a_declined_plan_exit_1_not_a_usage_error(world, password, monkeypatch, command):
    if command == "teardown":
        assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    monkeypatch.setattr("xacct_dataapi.terminal.stdin_is_terminal", lambda: True)
    args = world.setup_args("--enable-data-api") if command == "setup" else ["teardown"]
    res = CliRunner().invoke(cli, args, input="n\n", catch_exceptions=False)
    assert res.exit_code == 1, res.output
    assert "Declined: nothing was changed." in res.output
    if command == "setup":
        assert world.provider.client("kms").list_keys()["Keys"] == []
    else:
        assert world.provider.client("iam").list_roles()["Roles"] != []


def test_status_with_the_recorded_vpc_deleted_reports_step_7_missing_and_exits_1(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    ec2 = world.consumer.client("ec2")
    for ep in live_endpoints(world.consumer, world.vpc_id):
        ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])
    for sg in xacct_security_groups(world.consumer, world.vpc_id):
        ec2.delete_security_group(GroupId=sg["GroupId"])
    for subnet in world.subnet_ids:
        ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=world.vpc_id)

    res = invoke(["status", "--output", "json"])
    assert res.exit_code == 1, res.output  # drift, not bad usage (was exit 2: "--vpc ...: no such VPC")
    steps = {s["number"]: s for s in json.loads(res.stdout)["steps"]}
    assert steps[7]["status"] == "missing" and world.vpc_id in steps[7]["reason"]
    assert steps[8]["status"] == "failed" and world.vpc_id in " ".join(steps[8]["detail"])
    assert [steps[n]["status"] for n in range(1, 7)] == ["done"] * 6


def test_rerunning_with_only_the_name_reapplies_the_recorded_flags_and_lists_what_a_flag_changes(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    res = invoke(["setup", "--name", "orders", "--yes", "--output", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["result"]["calls_made"] == [] and doc["plan"]["changed_inputs"] == []

    res = invoke(["setup", "--name", "orders", "--db-user", "reporting", "--dry-run", "--output", "json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["changed_inputs"] == ["--db-user: app_user -> reporting"]
    (step3,) = [s for s in plan["steps"] if s["number"] == 3]
    assert step3["action"] == "repair" and "reporting@" in step3["reason"]


def test_a_new_deployment_without_its_required_flags_names_them(world):
    res = CliRunner().invoke(cli, ["setup", "--name", "fresh", "--cluster", world.cluster_id])
    assert res.exit_code == 2
    assert "Missing --provider-profile, --vpc, --subnets." in res.output


def test_list_shows_every_deployment_from_the_state_files(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    Path(".xacct/broken.json").write_text("{not json")
    res = invoke(["list", "--output", "json"])
    assert res.exit_code == 0, res.output
    found = {d["name"]: d for d in json.loads(res.stdout)}
    assert found["orders"]["summary"] == "complete" and found["orders"]["vpc"] == world.vpc_id
    assert found["orders"]["resources"] == 12
    assert found["broken"]["summary"].startswith("unreadable")
    text = invoke(["list"]).output
    assert "orders" in text and "broken" in text


@pytest.mark.parametrize("first", ["orders", "billing"])
def test_two_deployments_share_one_endpoint_and_either_can_leave_first(world, password, first):
    """One interface endpoint serves every cluster in the region: the second deployment in a VPC joins the first's
    endpoint (was refused: "already has an rds-data endpoint with private DNS"); a member's teardown removes only
    its grant, and the last one deletes the endpoint and its security group."""
    rds = world.provider.client("rds")
    billing = rds.create_db_cluster(DBClusterIdentifier="billing-aurora", Engine="aurora-postgresql",
                                    EngineVersion="11.13", EngineMode="serverless", MasterUsername="postgres",
                                    MasterUserPassword="seed-password-2", DatabaseName="billing")["DBCluster"]
    orders_args = world.setup_args("--enable-data-api", "--yes", name="orders")
    billing_args = world.setup_args("--enable-data-api", "--yes", name="billing")
    billing_args[billing_args.index("--cluster") + 1] = billing["DBClusterIdentifier"]
    grant(world, clusters=(world.cluster_id, billing["DBClusterIdentifier"]))  # `xacct permissions` per cluster
    assert invoke(orders_args).exit_code == 0
    res = invoke(billing_args)
    assert res.exit_code == 0, res.output

    from xacct_dataapi.steps.endpoint_members import read

    ec2 = world.consumer.client("ec2")
    (ep,) = live_endpoints(world.consumer, world.vpc_id)
    ep_group = ep["Groups"][0]["GroupId"]
    members = read(ec2, ep["VpcEndpointId"])[1]
    assert set(members) == {"orders", "billing"}  # each member's facts on its own group
    assert {g["GroupId"] for g in xacct_security_groups(world.consumer, world.vpc_id)} == \
        {ep_group} | {m.group_id for m in members.values()}
    statements = json.loads(ep["PolicyDocument"])["Statement"]
    assert sorted(s["Resource"] for s in statements) == sorted([world.cluster_arn, billing["DBClusterArn"]])
    for name in ("orders", "billing"):
        rows = {(r["kind"], r["id"]) for r in json.loads(Path(f".xacct/{name}.json").read_text())["resources"]}
        assert {("vpc_endpoint", ep["VpcEndpointId"]), ("security_group", ep_group),
                ("security_group", members[name].group_id)} <= rows
    assert invoke(["setup", "--name", "billing", "--yes", "--output", "json"]).stdout.count('"calls_made": []') == 1

    second = "billing" if first == "orders" else "orders"
    res = invoke(["teardown", "--name", first, "--yes", "--output", "json"])
    assert res.exit_code == 0, res.output
    removed = json.loads(res.stdout)["result"]["removed"]
    kept_rows = {r["kind"] for r in removed if r["outcome"] == "kept for other deployments"}
    assert kept_rows == {"vpc_endpoint", "security_group"}, removed  # the endpoint and its group stay
    (kept,) = live_endpoints(world.consumer, world.vpc_id)
    assert kept["VpcEndpointId"] == ep["VpcEndpointId"]
    kept_cluster = billing["DBClusterArn"] if second == "billing" else world.cluster_arn
    assert [s["Resource"] for s in json.loads(kept["PolicyDocument"])["Statement"]] == [kept_cluster]
    assert set(read(ec2, kept["VpcEndpointId"])[1]) == {second}
    assert {g["GroupId"] for g in xacct_security_groups(world.consumer, world.vpc_id)} == \
        {ep_group, members[second].group_id}
    status = invoke(["status", "--name", second, "--output", "json"])
    assert status.exit_code == 0, status.output  # the other deployment still has every step done
    verified = invoke(["verify", "--name", second, "--output", "json"])
    assert verified.exit_code == 0, verified.output  # and its path still works, through the kept endpoint

    res = invoke(["teardown", "--name", second, "--yes"])
    assert res.exit_code == 0, res.output
    assert live_endpoints(world.consumer, world.vpc_id) == [] and xacct_security_groups(world.consumer, world.vpc_id) == []
    assert_nothing_left(world)


def test_the_endpoint_admits_every_vpc_cidr_block_and_each_client_cidr(world, password):
    ec2 = world.consumer.client("ec2")
    ec2.associate_vpc_cidr_block(VpcId=world.vpc_id, CidrBlock="10.21.0.0/16")  # a secondary block of the VPC
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--client-cidr", "192.168.10.0/24"))
    assert res.exit_code == 0, res.output
    (sg,) = xacct_security_groups(world.consumer, world.vpc_id)
    ingress = sorted(r["CidrIp"] for p in sg["IpPermissions"] if p.get("FromPort") == 443 for r in p["IpRanges"])
    assert ingress == ["10.20.0.0/16", "10.21.0.0/16", "192.168.10.0/24"]  # was the primary block only
    assert json.loads(Path(STATE).read_text())["config"]["client_cidrs"] == ["192.168.10.0/24"]
    assert invoke(["setup", "--name", "default", "--yes", "--output", "json"]).stdout.count('"calls_made": []') == 1

    bad = CliRunner().invoke(cli, world.setup_args("--client-cidr", "10.0.0.1/8", "--dry-run"))
    assert bad.exit_code == 2 and "10.0.0.1/8" in bad.output and "--client-cidr" in bad.output


def test_with_output_json_an_error_is_one_json_object_on_stderr(world):
    res = CliRunner().invoke(cli, ["status", "--name", "nothing-here", "--output", "json"])
    assert res.exit_code == 2
    assert res.stdout == ""
    error = json.loads(res.stderr)["error"]
    assert error["exit_code"] == 2 and "nothing-here" in error["message"] and error["hint"]


def test_no_consumer_profile_and_no_aws_profile_names_the_flag_not_none(world):
    args = world.setup_args("--dry-run")
    i = args.index("--consumer-profile")
    del args[i:i + 2]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    assert "None" not in res.output and "No --consumer-profile was given" in res.output


def test_the_plan_at_80_columns_keeps_every_call_name_whole(world, password, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    res = invoke(world.setup_args("--enable-data-api", "--dry-run"))
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.stdout.splitlines()) <= 80
    flat = "".join(line.strip(" │┃") for line in res.stdout.splitlines())
    for call in ("secretsmanager:put_resource_policy", "ec2:authorize_security_group_ingress", "kms:put_key_policy",
                 "ec2:revoke_security_group_egress", "secretsmanager:create_secret"):
        assert call in res.stdout or call in flat.replace(" ", ""), call
    assert "…" not in res.stdout  # folded, never cut


def test_names_that_differ_only_in_case_are_one_deployment(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    res = CliRunner().invoke(cli, world.setup_args("--enable-data-api", "--yes", name="Orders"))
    assert res.exit_code == 2 and "'orders' already exists" in res.output, res.output
    assert not Path(".xacct/Orders.json").exists()


def test_a_dry_run_reports_every_bad_input_at_once(world):
    args = world.setup_args("--dry-run", "--db-user", "bad user", "--client-cidr", "300.1.1.0/24")
    args[args.index("--vpc") + 1] = "vpc-nope"
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2
    for needle in ("3 problems", "'vpc-nope'", "'bad user'", "'300.1.1.0/24'"):
        assert needle in res.output, res.output


def test_a_teardown_without_the_state_file_also_turns_off_the_data_api_xacct_turned_on(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    Path(STATE).unlink()  # lost
    res = invoke(["teardown", "--name", "default", "--consumer-profile", "consumer", "--provider-profile", "provider",
                  "--yes"])
    assert res.exit_code == 0, res.output
    cluster = world.provider.client("rds").describe_db_clusters(DBClusterIdentifier=world.cluster_id)["DBClusters"][0]
    assert cluster["HttpEndpointEnabled"] is False  # was left on: the by-tag teardown had no step for it
    tags = world.provider.client("rds").list_tags_for_resource(ResourceName=world.cluster_arn)["TagList"]
    assert all(t["Key"] != "xacct:data-api-enabled-by" for t in tags)
    assert_nothing_left(world)
