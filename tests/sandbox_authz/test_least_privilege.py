"""xacct's commands run as least-privilege operators: in each account an operator user whose only policy is exactly
what `xacct permissions --side S --for COMMAND` prints (filled with the sandbox's accounts, region, cluster and VPC),
replaced before each command. The sandbox evaluates those policies as AWS does (resources, tags, condition keys), so
any call the code makes that the generated policy does not allow fails the command."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest

from tests.e2e.test_cli_server import clean_env, xacct_cmd
from xacct_dataapi import permissions
from xacct_dataapi.sandbox import Sandbox

pytestmark = pytest.mark.server

OPERATOR = "xacct-operator"
POLICY = "xacct-generated"


@pytest.fixture(scope="module")
def operators(tmp_path_factory):
    """A sandbox, plus profiles `op-consumer` / `op-provider` of an operator user in each account (no policy yet)."""
    home = tmp_path_factory.mktemp("least")
    with Sandbox(home / "sandbox") as sandbox:
        info = sandbox.info
        cfg, creds = home / "op-config", home / "op-credentials"
        config, credentials = info.config_file.read_text(), ""
        for side, profile in (("consumer", info.consumer_profile), ("provider", info.provider_profile)):
            iam = boto3.Session(profile_name=profile, botocore_session=None).client(
                "iam", config=None) if False else _admin(info, profile).client("iam")
            iam.create_user(UserName=OPERATOR)
            key = iam.create_access_key(UserName=OPERATOR)["AccessKey"]
            config += f"\n[profile op-{side}]\nregion = {info.region}\nendpoint_url = {info.endpoint_url}\n"
            credentials += (f"[op-{side}]\naws_access_key_id = {key['AccessKeyId']}\n"
                            f"aws_secret_access_key = {key['SecretAccessKey']}\n\n")
        cfg.write_text(config)
        creds.write_text(credentials)
        yield info, home, {"AWS_CONFIG_FILE": str(cfg), "AWS_SHARED_CREDENTIALS_FILE": str(creds)}


def _admin(info, profile):
    session = boto3.Session.__new__(boto3.Session)
    import botocore.session

    core = botocore.session.Session()
    core.set_config_variable("config_file", str(info.config_file))
    core.set_config_variable("credentials_file", str(info.credentials_file))
    core.set_config_variable("profile", profile)
    boto3.Session.__init__(session, botocore_session=core)
    return session


def grant(info, command: str, name: str = "*", consumer_user: str | None = None) -> dict:
    """Put exactly `xacct permissions --for COMMAND [--name NAME] [--consumer-user U]` on each operator."""
    docs = {}
    for side, profile in (("consumer", info.consumer_profile), ("provider", info.provider_profile)):
        doc = permissions.policy_for_cli(side, command, name=name, region=info.region, provider=info.provider_account,
                                         consumer=info.consumer_account, cluster=info.cluster_id, vpc=info.vpc_id,
                                         consumer_user=consumer_user)
        iam = _admin(info, profile).client("iam")
        attach_as_managed_policies(iam, doc)
        docs[side] = doc
    return docs


def attach_as_managed_policies(iam, doc: dict) -> None:
    """The policy as customer-managed policies attached to the operator, as an administrator would on AWS: an inline
    user policy holds only 2,048 characters, a managed policy 6,144 (IAM quotas; the sandbox enforces both), so the
    statements are packed into as few managed policies as fit (at most 10 attached to a user)."""
    for attached in iam.list_attached_user_policies(UserName=OPERATOR)["AttachedPolicies"]:
        iam.detach_user_policy(UserName=OPERATOR, PolicyArn=attached["PolicyArn"])
        iam.delete_policy(PolicyArn=attached["PolicyArn"])
    chunks: list[list[dict]] = []
    for statement in doc["Statement"]:
        size = len(json.dumps({"Version": doc["Version"], "Statement": [*(chunks[-1] if chunks else []), statement]},
                              separators=(",", ":")))
        if not chunks or size > 6000:
            chunks.append([statement])
        else:
            chunks[-1].append(statement)
    assert len(chunks) <= 10, "more than a user's 10 attached managed policies"
    for n, statements in enumerate(chunks):
        arn = iam.create_policy(PolicyName=f"{POLICY}-{uuid.uuid4().hex[:8]}-{n}",
                                PolicyDocument=json.dumps({"Version": doc["Version"], "Statement": statements},
                                                          separators=(",", ":")))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=OPERATOR, PolicyArn=arn)


def xacct(info, home, env, command: str, *args: str, code: int = 0):
    """`xacct COMMAND ARGS` as the operators, whose policies are exactly `xacct permissions --for COMMAND --name N`
    (N: the deployment's --name, so the policies are the narrowest xacct generates)."""
    import subprocess

    adopted = args[args.index("--consumer-user") + 1] if "--consumer-user" in args else None
    grant(info, command, args[args.index("--name") + 1], adopted)
    password = info.db_password()  # the sandbox's real database checks it (sandbox/database.py)
    res = subprocess.run([*xacct_cmd(), command, *args], env=clean_env({**env, "XACCT_DB_PASSWORD": password}),
                         cwd=home, capture_output=True, text=True, timeout=180)
    assert password not in res.stdout + res.stderr
    assert res.returncode == code, f"xacct {command} {' '.join(args)}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def setup_args(info, name: str, *extra: str) -> list[str]:
    return ["--consumer-profile", "op-consumer", "--provider-profile", "op-provider", "--cluster", info.cluster_id,
            "--vpc", info.vpc_id, "--subnets", ",".join(info.subnet_ids), "--enable-data-api", "--name", name,
            "--yes", "--wait-timeout", "5", *extra]


def test_the_lifecycle_runs_with_exactly_the_generated_policies(operators):
    info, home, env = operators
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
    xacct(info, home, env, "teardown", "--name", "lp1", "--yes", "--consumer-profile", "op-consumer",
          "--provider-profile", "op-provider")
    left = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [info.vpc_id]},
                                               {"Name": "vpc-endpoint-state", "Values": ["available", "pending"]}])
    assert left["VpcEndpoints"] == []
    kms = _admin(info, info.provider_profile).client("kms")
    states = {kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]}
    assert states <= {"PendingDeletion"}, states


def test_a_call_outside_the_generated_policy_is_refused(operators):
    """Not vacuous: the operator with only the `status` policy cannot set up."""
    info, home, env = operators
    grant(info, "status")
    import subprocess

    res = subprocess.run([*xacct_cmd(), "setup", *setup_args(info, "lp3")],
                         env=clean_env({**env, "XACCT_DB_PASSWORD": info.db_password()}), cwd=home, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "is not authorized to perform" in res.stdout + res.stderr
