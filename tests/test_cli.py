"""CLI tests (typer CliRunner, in-process moto): the happy path end to end, and every bad input."""
from __future__ import annotations

import configparser
import io
import fnmatch
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.accounts import (CONSUMER, access_role_arn, PROVIDER, ROLE_NAME, ROLE_POLICY, SECRET_NAME, SG_NAME, STATE, USER_NAME,
                                    USER_POLICY)
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import authorization_paused, grant, world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.steps.data_api import SWITCH_STATE
from xacct_dataapi import policies
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")

runner = CliRunner()


def invoke(args, **kw):
    return runner.invoke(cli, args, catch_exceptions=False, **kw)


def test_setup_status_rerun_teardown(world, password):
    res = invoke(world.setup_args("--enable-data-api", "--dry-run", "--output", "json"))
    assert res.exit_code == 0, res.output
    assert not Path(STATE).exists(), "dry run must not write state"
    plan = json.loads(res.stdout)
    assert [s["number"] for s in plan["steps"]] == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert plan["execution_order"].index("access_role") < plan["execution_order"].index("secret_policy")
    assert password not in res.output
    step5 = next(s for s in plan["steps"] if s["number"] == 5)
    trust = step5["documents"]["access_role_trust"]["Statement"][0]
    assert trust["Condition"]["StringEquals"]["sts:ExternalId"] == "${external_id}"  # generated at apply, not shown twice
    # Every item is data (issue 26): an Operation's procedure and the function it names, a wait's read and the JMESPath
    # naming its state, the secret's content with only the password masked.
    items = {c["call"]: c for s in plan["steps"] for c in s["calls"]}
    switch = items["rds:modify_db_cluster"]["wait"]  # the seeded cluster is Serverless v1
    assert (switch["operation"], switch["state"], switch["while"], switch["until"]) == (
        "describe_db_clusters", SWITCH_STATE, ["off"], ["on"])
    assert SWITCH_STATE.startswith("DBClusters[0].HttpEndpointEnabled == `true` && 'on'")  # a boolean, not truthy
    assert {"matcher": "path", "argument": switch["state"], "expected": "on", "state": "success"} in switch["acceptors"]
    endpoint = items["ec2:create_vpc_endpoint"]
    assert endpoint["procedure"] == {"name": "ec2:create_vpc_endpoint",
                                     "function": "xacct_dataapi.steps.endpoint_create.create_or_join"}
    assert endpoint["params"]["Create"]["VpcId"] == world.vpc_id and endpoint["wait"]["until"] == ["available"]
    secret = items["secretsmanager:create_secret"]["params"]["SecretString"]
    assert secret["password"] == "********" and secret["username"]
    # Nothing was created by the dry run.
    assert world.provider.client("iam").list_roles()["Roles"] == []

    res = invoke(world.setup_args("--enable-data-api", "--yes"))
    assert res.exit_code == 0, res.output
    state = json.loads(Path(STATE).read_text())
    assert state["accounts"] == {"consumer": CONSUMER, "provider": PROVIDER}
    role = world.provider.client("iam").get_role(RoleName=ROLE_NAME)["Role"]
    assert policies.equal(role["AssumeRolePolicyDocument"], policies.access_role_trust_policy(
        CONSUMER, f"arn:aws:iam::{CONSUMER}:user/{USER_NAME}", state["values"]["external_id"]))
    assert {"Key": "xacct:deployment", "Value": "default"} in role["Tags"]

    res = invoke(["status", "--output", "json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert [s["status"] for s in report["steps"]] == ["done"] * 8
    assert [s["number"] for s in report["steps"]] == list(range(1, 9))

    res = invoke(world.setup_args("--enable-data-api", "--yes", "--output", "json"))
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # one JSON document: the plan and the result
    assert all(s["action"] == "no-op" and s["reason"] for s in doc["plan"]["steps"])
    assert doc["result"]["calls_made"] == []

    res = invoke(["teardown", "--yes"])
    assert res.exit_code == 0, res.output
    assert not Path(STATE).exists()
    assert world.provider.client("iam").list_roles()["Roles"] == []
    assert world.provider.client("secretsmanager").list_secrets()["SecretList"] == []
    res = invoke(["teardown", "--yes"])  # done already: no deployment of that name is left to tear down
    assert res.exit_code == 2 and "No deployment named 'default'" in " ".join(res.output.split()), res.output

    # Teardown turned the Data API back off (xacct had turned it on); the same name works again at once.
    assert world.provider.client("rds").describe_db_clusters()["DBClusters"][0]["HttpEndpointEnabled"] is False
    res = invoke(world.setup_args("--enable-data-api", "--yes"))
    assert res.exit_code == 0, res.output


def _json_documents(text: str):
    decoder, idx = json.JSONDecoder(), 0
    while idx < len(text):
        while idx < len(text) and text[idx].isspace():
            idx += 1
        if idx >= len(text):
            break
        obj, end = decoder.raw_decode(text, idx)
        yield json.dumps(obj)
        idx = end


def _assert_usage_error(res, *needles):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for n in needles:
        assert n in res.output, res.output


def test_unknown_profile(world, password):
    args = world.setup_args("--enable-data-api", "--yes")
    args[args.index("consumer")] = "nope-profile"
    res = invoke(args)
    _assert_usage_error(res, "nope-profile", "configure")
    assert not Path(".xacct").exists()


def test_same_account(world, password):
    args = world.setup_args("--yes")
    args[args.index("provider")] = "consumer"  # the consumer account's operator as the provider's too
    _assert_usage_error(invoke(args), CONSUMER, "different accounts")


def test_subnet_not_in_vpc(world, password):
    other = world.consumer.client("ec2").create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    sub = world.consumer.client("ec2").create_subnet(VpcId=other, CidrBlock="10.99.1.0/24")["Subnet"]["SubnetId"]
    args = world.setup_args("--enable-data-api", "--yes")
    args[args.index("--subnets") + 1] = f"{world.subnet_ids[0]},{sub}"
    _assert_usage_error(invoke(args), sub, other)


def test_unknown_cluster(world, password):
    grant(world, clusters=("no-such-cluster",))  # `xacct permissions --cluster no-such-cluster`: then not found
    args = world.setup_args("--yes")
    args[args.index("--cluster") + 1] = "no-such-cluster"
    _assert_usage_error(invoke(args), "no-such-cluster", PROVIDER)


def test_unknown_cluster_outside_the_operators_policy_is_refused_with_the_reason(world, password):
    """On AWS a least-privilege provider profile may describe its one cluster only: a mistyped id is refused, not
    reported missing; xacct says so instead of hinting at a missing cluster."""
    args = world.setup_args("--yes")
    args[args.index("--cluster") + 1] = "no-such-cluster"
    res = invoke(args)
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert "no-such-cluster" in text and "AccessDenied" in text and "Check the identifier" in text


def test_empty_subnets(world, password):
    args = world.setup_args("--yes")
    args[args.index("--subnets") + 1] = " , "
    _assert_usage_error(invoke(args), "--subnets")


def test_bad_name(world, password):
    _assert_usage_error(invoke(world.setup_args("--yes", name="bad_name!")), "bad_name!", "--name")


def test_data_api_off_without_flag(world, password):
    _assert_usage_error(invoke(world.setup_args("--yes")), "Data API is off", "--enable-data-api")
    assert world.provider.client("kms").list_aliases()["Aliases"] == [
        a for a in world.provider.client("kms").list_aliases()["Aliases"] if a["AliasName"].startswith("alias/aws/")]


def test_missing_password_without_tty(world):
    res = invoke(world.setup_args("--enable-data-api", "--yes"))
    _assert_usage_error(res, "XACCT_DB_PASSWORD", "--db-password-stdin")
    assert world.provider.client("kms").list_keys()["Keys"] == []
    assert not Path(STATE).exists()


def test_password_from_stdin(world):
    res = runner.invoke(cli, world.setup_args("--enable-data-api", "--yes", "--db-password-stdin"),
                        input="piped-Passw0rd\n", catch_exceptions=False)
    assert res.exit_code == 0, res.output
    sm = world.provider.client("secretsmanager")
    with authorization_paused():  # the secret's policy denies its value to all but the access role
        value = json.loads(sm.get_secret_value(SecretId=SECRET_NAME)["SecretString"])
    assert value["password"] == "piped-Passw0rd"
    assert set(value) == {"username", "password", "engine", "host", "port", "dbname"}
    assert "piped-Passw0rd" not in Path(STATE).read_text()


class _CtrlCAtTheTerminal(io.BytesIO):
    """stdin of an operator at a terminal who presses Ctrl-C at the first prompt."""

    def isatty(self):
        return True

    def read1(self, *_):
        raise KeyboardInterrupt

    read = readline = readinto = read1


@pytest.mark.parametrize("command", ["setup", "teardown"])
def test_ctrl_c_at_the_confirmation_prompt_is_an_interruption(world, password, monkeypatch, command):
    if command == "teardown":
        assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    before = Path(".xacct/default.json").read_bytes() if command == "teardown" else None
    monkeypatch.setattr("typer.testing.make_input_stream", lambda input, charset: _CtrlCAtTheTerminal())
    res = invoke(world.setup_args("--enable-data-api") if command == "setup" else ["teardown"])
    assert res.exit_code == 130, res.output  # was "Aborted." and exit 1: typer's Abort slipped past the prompt
    assert "Interrupted at the confirmation prompt: nothing was changed." in res.output
    assert "Aborted" not in res.output
    if command == "setup":
        assert not Path(".xacct/default.json").exists()
        assert world.provider.client("kms").list_keys()["Keys"] == []
    else:
        assert Path(".xacct/default.json").read_bytes() == before


def test_no_tty_without_yes(world, password):
    res = invoke(world.setup_args("--enable-data-api"))
    _assert_usage_error(res, "--yes")
    assert world.provider.client("kms").list_keys()["Keys"] == []


@pytest.mark.parametrize("content", [b"{not json", b'{"schema_version": 99, "name": "default"}'])
def test_corrupt_state_file(world, password, content):
    path = Path(STATE)
    path.parent.mkdir()
    path.write_bytes(content)
    res = invoke(world.setup_args("--enable-data-api", "--yes"))
    _assert_usage_error(res, str(path))
    assert path.read_bytes() == content
    assert world.provider.client("kms").list_keys()["Keys"] == []
    for cmd in (["status"], ["teardown", "--yes"]):
        res = invoke(cmd)
        assert res.exit_code == 2, res.output
        assert path.read_bytes() == content


def test_accounts_differ_from_state(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    path = Path(STATE)
    data = json.loads(path.read_text())
    data["accounts"]["provider"] = "333333333333"
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    res = invoke(world.setup_args("--yes"))
    _assert_usage_error(res, "333333333333")
    assert path.read_bytes() == before


def test_status_without_state():
    res = invoke(["status", "--name", "nothing-here"])
    _assert_usage_error(res, "nothing-here")


def test_status_reports_missing_and_drift(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    iam = world.provider.client("iam")
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName=ROLE_POLICY,
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                            {"Sid": "RunDataApiStatements", "Effect": "Allow", "Action": "rds-data:*", "Resource": "*"}]}))
    world.consumer.client("iam").delete_user_policy(UserName=USER_NAME, PolicyName=USER_POLICY)
    res = invoke(["status", "--output", "json"])
    assert res.exit_code == 1
    report = {s["number"]: s for s in json.loads(res.stdout)["steps"]}
    assert report[5]["status"] == "drifted"
    assert any("RunDataApiStatements" in d for d in report[5]["detail"])
    assert report[6]["status"] == "missing"
    res = invoke(world.setup_args("--yes"))
    assert res.exit_code == 0, res.output
    assert "differ" in res.output
    res = invoke(["status", "--output", "json"])
    assert res.exit_code == 0, res.output


def test_teardown_without_state_finds_resources_by_tag(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    Path(STATE).unlink()
    Path(STATE + ".bak").unlink()
    res = invoke(["teardown", "--yes"])  # no state file: nothing is looked up in AWS without both profiles
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "No deployment named 'default'" in text, text
    assert "pass --consumer-profile and --provider-profile to find them by tag" in text
    assert world.provider.client("iam").list_roles()["Roles"] != []
    res = invoke(["teardown", "--name", "default", "--consumer-profile", "consumer", "--provider-profile", "provider"])
    assert res.exit_code == 2 and "--yes" in res.output  # listed, then confirmation required
    assert world.provider.client("iam").list_roles()["Roles"] != []
    res = invoke(["teardown", "--name", "default", "--consumer-profile", "consumer", "--provider-profile", "provider", "--yes"])
    assert res.exit_code == 0, res.output
    assert "tagged xacct:deployment=default" in res.output
    assert world.provider.client("iam").list_roles()["Roles"] == []
    assert [u["UserName"] for u in world.consumer.client("iam").list_users()["Users"]
            if u["UserName"].startswith("xacct-default")] == []  # the test's administrator and operator remain
    assert world.provider.client("secretsmanager").list_secrets()["SecretList"] == []
    keys = world.provider.client("kms").list_keys()["Keys"]
    assert all(world.provider.client("kms").describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
               for k in keys)
    ec2 = world.consumer.client("ec2")
    assert ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [SG_NAME]}])[
        "SecurityGroups"] == []
    assert all(e["State"].lower() == "deleted" for e in ec2.describe_vpc_endpoints()["VpcEndpoints"])


def test_profiles_in_different_regions_need_region(world, password, tmp_path):
    config = configparser.ConfigParser()  # the consumer operator's profile, in another region
    config.read(os.environ["AWS_CONFIG_FILE"])
    config["profile consumer"]["region"] = "eu-west-1"
    with open(os.environ["AWS_CONFIG_FILE"], "w") as f:
        config.write(f)
    res = invoke(world.setup_args("--enable-data-api", "--yes"))
    _assert_usage_error(res, "eu-west-1", "us-west-2", "--region")
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--region", "us-west-2"))
    assert res.exit_code == 0, res.output


def test_status_json_shows_the_drifted_statement(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    world.provider.client("iam").put_role_policy(
        RoleName=ROLE_NAME, PolicyName=ROLE_POLICY,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "RunDataApiStatements", "Effect": "Allow", "Action": "rds-data:*", "Resource": "*"}]}))
    report = json.loads(invoke(["status", "--output", "json"]).stdout)
    drift = {d["sid"]: d for d in report["steps"][4]["drift"]}
    assert drift["RunDataApiStatements"]["change"] == "differs"
    assert drift["RunDataApiStatements"]["actual"]["Resource"] == "*"
    assert drift["RunDataApiStatements"]["expected"]["Resource"] == world.cluster_arn
    assert drift["ReadDbCredentials"]["change"] == "missing"


def test_vpc_without_dns_hostnames_is_a_usage_error(world, password):
    world.consumer.client("ec2").modify_vpc_attribute(VpcId=world.vpc_id, EnableDnsHostnames={"Value": False})
    res = invoke(world.setup_args("--enable-data-api", "--yes"))
    _assert_usage_error(res, world.vpc_id, "enableDnsHostnames", "--enable-dns-hostnames")
    assert world.provider.client("kms").list_keys()["Keys"] == []


def test_teardown_json_is_one_document(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    res = invoke(["teardown", "--yes", "--output", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    kinds = [r["kind"] for r in doc["result"]["removed"]]
    assert kinds[0] == "vpc_endpoint" and kinds[-1] == "data_api"
    assert "iam.delete_role" in doc["result"]["calls_made"]
    assert world.provider.client("iam").list_roles()["Roles"] == []


def test_endpoint_policy_full_and_back(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", "--endpoint-policy", "full")).exit_code == 0
    ec2 = world.consumer.client("ec2")
    (ep,) = [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["State"].lower() != "deleted"]
    assert json.loads(ep["PolicyDocument"])["Statement"][0]["Action"] == "*"
    rerun = invoke(world.setup_args("--enable-data-api", "--yes", "--endpoint-policy", "full", "--output", "json"))
    assert json.loads(rerun.stdout)["result"]["calls_made"] == []  # AWS's default policy is what "full" means
    # Omitted, the recorded "full" is re-applied; asked for, "restricted" is repaired in place.
    assert invoke(world.setup_args("--yes", "--output", "json")).stdout.count('"calls_made": []') == 1
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--endpoint-policy", "restricted"))
    assert res.exit_code == 0, res.output
    (ep2,) = [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["State"].lower() != "deleted"]
    assert ep2["VpcEndpointId"] == ep["VpcEndpointId"]
    doc = json.loads(ep2["PolicyDocument"])
    pattern = doc["Statement"][0]["Condition"]["ArnLike"]["aws:PrincipalArn"]  # the access roles on the cluster
    assert fnmatch.fnmatchcase(access_role_arn(), pattern) and pattern.endswith("/xacct-*-data-api-access")
    _assert_usage_error(invoke(world.setup_args("--yes", "--endpoint-policy", "open")), "open", "--endpoint-policy")


def test_teardown_leaves_data_api_on_for_another_deployment(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    # A second deployment on the same cluster, from another VPC (one private-DNS endpoint per VPC).
    ec2 = world.consumer.client("ec2")
    vpc2 = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc2, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc2, EnableDnsHostnames={"Value": True})
    sub2 = ec2.create_subnet(VpcId=vpc2, CidrBlock="10.30.1.0/24", AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]
    grant(world, vpcs=(world.vpc_id, vpc2))  # `xacct permissions --vpc VPC,VPC2`: the operator works in both
    args = world.setup_args("--yes", name="second")
    args[args.index("--vpc") + 1], args[args.index("--subnets") + 1] = vpc2, sub2
    res = invoke(args)  # the Data API is already on: not this deployment's change
    assert res.exit_code == 0, res.output
    res = invoke(["teardown", "--yes"])
    assert res.exit_code == 0, res.output
    assert "second" in res.output and "Data API on" in res.output
    rds = world.provider.client("rds")
    assert rds.describe_db_clusters()["DBClusters"][0]["HttpEndpointEnabled"] is True
    status = json.loads(invoke(["status", "--name", "second", "--output", "json"]).stdout)
    assert [s["status"] for s in status["steps"]] == ["done"] * 8
    assert invoke(["teardown", "--name", "second", "--yes"]).exit_code == 0
    # xacct turned it on (for "default"): the switch is shared, so the last deployment on the cluster to leave turns
    # it off (was: left on, tagged xacct:data-api-enabled-by=default, after both teardowns).
    assert rds.describe_db_clusters()["DBClusters"][0]["HttpEndpointEnabled"] is False
    tags = rds.list_tags_for_resource(ResourceName=world.cluster_arn)["TagList"]
    assert not any(t["Key"].startswith("xacct:data-api") for t in tags)


def test_changing_db_user_rewrites_the_secret(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    sm = world.provider.client("secretsmanager")
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=SECRET_NAME)["Tags"]}
    assert tags["xacct:connection"].startswith("app_user@")
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--db-user", "reporting", "--dry-run", "--output", "json"))
    step3 = next(s for s in json.loads(res.stdout)["steps"] if s["number"] == 3)
    assert step3["action"] == "repair" and "reporting@" in step3["reason"]
    secret_string = step3["calls"][0]["params"]["SecretString"]
    assert secret_string["username"] == "reporting" and secret_string["password"] == "********"
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--db-user", "reporting"))
    assert res.exit_code == 0, res.output
    with authorization_paused():  # the secret's policy denies its value to all but the access role
        value = json.loads(sm.get_secret_value(SecretId=SECRET_NAME)["SecretString"])
    assert value["username"] == "reporting" and value["password"] == password
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=SECRET_NAME)["Tags"]}
    assert tags["xacct:connection"].startswith("reporting@")
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--db-user", "reporting", "--output", "json"))
    assert json.loads(res.stdout)["result"]["calls_made"] == []


def test_rotate_password(world, password, monkeypatch):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    monkeypatch.setenv("XACCT_DB_PASSWORD", "rotated-Passw0rd")
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--rotate-password"))
    assert res.exit_code == 0, res.output
    sm = world.provider.client("secretsmanager")
    with authorization_paused():  # the secret's policy denies its value to all but the access role
        assert json.loads(sm.get_secret_value(SecretId=SECRET_NAME)["SecretString"])["password"] == "rotated-Passw0rd"


def test_teardown_dry_run_changes_nothing(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    before = Path(STATE).read_bytes()
    res = invoke(["teardown", "--dry-run", "--output", "json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["kind"] == "teardown" and plan["steps"][0]["number"] == 7
    items = [c for s in plan["steps"] for c in s["calls"]]
    for item in items:  # every delete: what AWS must show first; every composite one: the function it runs
        assert item["call"] in ("forget", "kms:delete_alias", "iam:delete_role_policy", "iam:delete_user_policy") or (
            item["procedure"]["function"].startswith("xacct_dataapi.") and item["procedure"]["name"] == item["call"])
        assert ("guard" in item) == (item["call"] != "forget"), item
    switch_off = next(c for c in items if c["call"] == "rds:disable_data_api_unless_shared")
    assert switch_off["guard"] == {"kind": "data_api", "id": world.cluster_id, "reads": "Data API switch of cluster",
                                   "deployment": "default", "arn": world.cluster_arn}
    assert (switch_off["wait"]["while"], switch_off["wait"]["until"]) == (["on"], ["off"])
    assert Path(STATE).read_bytes() == before
    assert world.provider.client("iam").get_role(RoleName=ROLE_NAME)


def test_verify_refuses_a_profile_outside_the_consumer_account(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    _assert_usage_error(invoke(["verify", "--as-profile", "provider"]), PROVIDER, "consumer account")
    res = invoke(["verify", "--output", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["role_arn"] == access_role_arn()
    # the temporary access key minted for the check is gone again
    assert world.consumer.client("iam").list_access_keys(UserName=USER_NAME)["AccessKeyMetadata"] == []


@pytest.mark.parametrize("region", ["us west", "US-WEST-2", "uswest2"])
def test_bad_region_is_a_usage_error(world, password, region):
    _assert_usage_error(invoke(world.setup_args("--enable-data-api", "--yes", "--region", region)), repr(region), "--region")


def test_state_path_that_is_a_directory(world, password, tmp_path):
    d = tmp_path / "adir"
    d.mkdir()
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--state", str(d)))
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert str(d) in res.output


def test_wait_timeout_must_be_positive(world, password):
    res = invoke(world.setup_args("--enable-data-api", "--yes", "--wait-timeout", "-5"))
    assert res.exit_code == 2 and "--wait-timeout" in res.output


def test_endpoint_deleted_by_hand_is_missing_then_recreated_and_old_id_forgotten(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    state = json.loads(Path(STATE).read_text())
    old = state["values"]["endpoint_id"]
    ec2 = world.consumer.client("ec2")
    ec2.delete_vpc_endpoints(VpcEndpointIds=[old])
    ec2.authorize_security_group_ingress(GroupId=state["values"]["security_group_id"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    report = json.loads(invoke(["status", "--output", "json"]).stdout)
    step7 = report["steps"][6]
    assert step7["status"] == "drifted"
    text = " ".join(step7["detail"])
    assert "tcp 22 0.0.0.0/0" in text and "no rds-data endpoint" in text  # both problems are shown
    res = invoke(world.setup_args("--enable-data-api", "--yes"))
    assert res.exit_code == 0, res.output
    state = json.loads(Path(STATE).read_text())
    endpoints = [r["id"] for r in state["resources"] if r["kind"] == "vpc_endpoint"]
    assert len(endpoints) == 1 and endpoints[0] != old
    assert json.loads(invoke(["status", "--output", "json"]).stdout)["all_done"] is True


def test_swapped_profiles_are_named(world, password):
    args = world.setup_args("--enable-data-api", "--yes")
    i, j = args.index("--consumer-profile") + 1, args.index("--provider-profile") + 1
    args[i], args[j] = "provider", "consumer"
    _assert_usage_error(invoke(args), "swapped")
