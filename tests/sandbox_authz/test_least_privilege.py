"""xacct's commands run as least-privilege operators: in each account the sandbox's operator user (its profiles
`xacct-operator-consumer` / `-provider`, sandbox/operators.py), whose only policies are exactly what `xacct permissions
--side S --for COMMAND --name NAME` prints (filled with the sandbox's accounts, region, cluster and VPC), replaced
before each command (the rest of the suite runs them with `--for all`). The sandbox evaluates those policies as AWS
does (resources, tags, condition keys), so any call the code makes that the generated policy does not allow fails the
command."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.e2e.test_cli_server import clean_env, xacct_cmd
from xacct_dataapi.sandbox import Sandbox, operators

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def least(tmp_path_factory):
    """A sandbox: its seeded operator profiles (sandbox/operators.py) are what xacct runs as here."""
    home = tmp_path_factory.mktemp("least")
    with Sandbox(home / "sandbox") as sandbox:
        info = sandbox.info
        yield info, home, info.env()


def _admin(info, profile):
    import botocore.session

    core = botocore.session.Session()
    core.set_config_variable("config_file", str(info.config_file))
    core.set_config_variable("credentials_file", str(info.credentials_file))
    core.set_config_variable("profile", profile)
    return boto3.Session(botocore_session=core)


def xacct(info, home, env, command: str, *args: str, code: int = 0):
    """`xacct COMMAND ARGS` as the operators, whose policies are exactly `xacct permissions --for COMMAND --name N`
    (N: the deployment's --name, so the policies are the narrowest xacct generates)."""
    import subprocess

    adopted = args[args.index("--consumer-user") + 1] if "--consumer-user" in args else None
    name = args[args.index("--name") + 1]
    recorded = home / ".xacct" / f"{name}.json"
    db = "--create-db-user" in args or (recorded.exists() and json.loads(recorded.read_text())["config"].get(
        "create_db_user", False))
    # rotate is a setup run: it needs setup's policy
    operators.grant(info, "setup" if command == "rotate" else command, name, consumer_user=adopted, create_db_user=db)
    password = info.db_password()  # the sandbox's real database checks it (sandbox/database.py)
    res = subprocess.run([*xacct_cmd(), command, *args], env=clean_env({**env, "XACCT_DB_PASSWORD": password}),
                         cwd=home, capture_output=True, text=True, timeout=180)
    assert password not in res.stdout + res.stderr
    assert res.returncode == code, f"xacct {command} {' '.join(args)}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def setup_args(info, name: str, *extra: str) -> list[str]:
    return ["--consumer-profile", info.operator_consumer_profile, "--provider-profile", info.operator_provider_profile,
            "--cluster", info.cluster_id, "--vpc", info.vpc_id, "--subnets", ",".join(info.subnet_ids), "--enable-data-api", "--name", name,
            "--yes", "--wait-timeout", "5", *extra]


def test_the_lifecycle_runs_with_exactly_the_generated_policies(least):
    info, home, env = least
    ec2 = _admin(info, info.consumer_profile).client("ec2")

    xacct(info, home, env, "setup", *setup_args(info, "lp1"))
    xacct(info, home, env, "setup", *setup_args(info, "lp1"))  # re-run: nothing to change
    xacct(info, home, env, "status", "--name", "lp1")
    assert "OK" in xacct(info, home, env, "verify", "--name", "lp1", "--wait-timeout", "5").stdout
    doctor = json.loads(xacct(info, home, env, "doctor", "--name", "lp1", "--output", "json").stdout)
    simulate = next(c for c in doctor["checks"] if c["id"] == "iam.simulate")
    assert simulate["status"] == "ok", simulate

    # Replacement: the application's own user is adopted (--consumer-user); setup replaces the user it made.
    _admin(info, info.consumer_profile).client("iam").create_user(UserName="lp-app")
    xacct(info, home, env, "setup", *setup_args(info, "lp1", "--consumer-user", "lp-app"))
    users = {u["UserName"] for u in _admin(info, info.consumer_profile).client("iam").list_users()["Users"]}
    assert "lp-app" in users and "xacct-lp1-data-api-client" not in users

    # A second deployment in the same VPC joins the endpoint (its facts as CreateTags on its own group, the shared
    # group's rules for its --client-cidr, a closing mark on an endpoint another deployment created), then leaves it
    # (DeleteTags) on teardown.
    xacct(info, home, env, "setup", *setup_args(info, "lp2", "--client-cidr", "192.168.7.0/24"))
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [info.vpc_id]},
                                                    {"Name": "vpc-endpoint-state", "Values": ["available"]}])
    (endpoint,) = endpoints["VpcEndpoints"]
    from xacct_dataapi.steps.endpoint_members import read

    assert {"lp1", "lp2"} <= set(read(ec2, endpoint["VpcEndpointId"])[1])
    xacct(info, home, env, "teardown", "--name", "lp2", "--yes")
    assert "lp2" not in read(ec2, endpoint["VpcEndpointId"])[1]

    # Teardown by tag: the state file is gone, teardown finds the deployment by its names and tags.
    Path(home / ".xacct" / "lp1.json").unlink()
    xacct(info, home, env, "teardown", "--name", "lp1", "--yes", "--consumer-profile", info.operator_consumer_profile,
          "--provider-profile", info.operator_provider_profile)
    left = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [info.vpc_id]},
                                               {"Name": "vpc-endpoint-state", "Values": ["available", "pending"]}])
    assert left["VpcEndpoints"] == []
    kms = _admin(info, info.provider_profile).client("kms")
    # The customer managed keys (the cluster's RDS-managed master secret uses AWS's own aws/secretsmanager key).
    keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    states = {k["KeyState"] for k in keys if k.get("KeyManager") == "CUSTOMER"}
    assert states <= {"PendingDeletion"}, states


def test_the_database_user_runs_with_exactly_the_generated_policies(least):
    """--create-db-user, rotate, status, doctor, teardown: GetRandomPassword, the rotation protocol's writes and SQL
    through the Data API as the admin (reading the cluster's managed master user secret), nothing more."""
    info, home, env = least
    xacct(info, home, env, "setup", *setup_args(info, "lpdb", "--db-user", "lp_reader", "--create-db-user",
                                                "--db-access", "read"))
    xacct(info, home, env, "rotate", "--name", "lpdb", "--yes", "--wait-timeout", "5")
    xacct(info, home, env, "status", "--name", "lpdb")
    assert "lp_reader" in xacct(info, home, env, "verify", "--name", "lpdb", "--wait-timeout", "5").stdout
    doctor = json.loads(xacct(info, home, env, "doctor", "--name", "lpdb", "--output", "json").stdout)
    assert next(c for c in doctor["checks"] if c["id"] == "db.user")["status"] == "ok"
    xacct(info, home, env, "teardown", "--name", "lpdb", "--yes")


def test_a_call_outside_the_generated_policy_is_refused(least):
    """Not vacuous: the operator with only the `status` policy cannot set up."""
    info, home, env = least
    operators.grant(info, "status")
    import subprocess

    res = subprocess.run([*xacct_cmd(), "setup", *setup_args(info, "lp3")],
                         env=clean_env({**env, "XACCT_DB_PASSWORD": info.db_password()}), cwd=home, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "is not authorized to perform" in " ".join((res.stdout + res.stderr).split())  # errors wrap at spaces


def test_team_state_in_the_sandbox_s_bucket_runs_with_exactly_the_generated_policies(least):
    """The sandbox seeds a team state bucket and grants the operators `xacct permissions --state-bucket` for it: a
    deployment kept there is set up, listed and torn down by the operators, the state object's lock and body
    written with conditional PUTs that S3, in the sandbox, authorises as AWS does (authz/s3.py)."""
    info, home, env = least
    team = info.team_state
    assert team.startswith("s3://xacct-team-state-")
    env = {**env, "XACCT_STATE_PROFILE": info.operator_consumer_profile}
    xacct(info, home, env, "setup", *setup_args(info, "lpteam", "--state", team))
    assert not (home / ".xacct" / "lpteam.json").exists()
    s3 = _admin(info, info.consumer_profile).client("s3")
    bucket, prefix = team[len("s3://"):].split("/", 1)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    assert keys == [f"{prefix}lpteam.json"]
    operators.grant(info, "status", "lpteam")
    import subprocess

    listed = subprocess.run([*xacct_cmd(), "list", "--state", team, "--output", "json"], env=clean_env(env), cwd=home,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert [d["name"] for d in json.loads(listed.stdout)] == ["lpteam"]
    xacct(info, home, env, "teardown", "--name", "lpteam", "--state", team, "--yes")
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount") == 0
