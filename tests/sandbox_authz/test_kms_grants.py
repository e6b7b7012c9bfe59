"""KMS grants in the sandbox's evaluator, as AWS evaluates them ("Grants in AWS KMS"): a grant lets its grantee
principal call its operations on the key, alongside the key policy, when its constraints hold; it never denies. So
a grant made by hand reaches the data in the sandbox as on AWS, and setup and doctor name it (widening.py).
In-process, as least-privilege operators; the application's path is the access role's session calling rds-data."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION, STATE, TEST_ADMIN_USER, USER_NAME
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli
from xacct_dataapi.policy_eval.decide import KMS_KEY, Principal, Question, decide

pytestmark = pytest.mark.usefixtures("fast_aws")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def application(world, values: dict):
    """The application's rds-data client: the consumer user's key, assumed into the access role with the external id."""
    key = world.consumer.client("iam").create_access_key(UserName=USER_NAME)["AccessKey"]
    user = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                         region_name=REGION)
    creds = user.client("sts").assume_role(RoleArn=values["access_role_arn"], RoleSessionName="app",
                                           ExternalId=values["external_id"])["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=REGION).client("rds-data")


def query(client, values: dict) -> str:
    """'ok', or the error code and message of the application's statement."""
    try:
        client.execute_statement(resourceArn=values["cluster_arn"], secretArn=values["secret_arn"],
                                 database="orders", sql="SELECT 1")
        return "ok"
    except ClientError as exc:
        return f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"


def test_a_hand_made_grant_reaches_the_data_and_setup_and_doctor_name_it(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    values = json.loads(Path(STATE).read_text())["values"]
    app = application(world, values)
    assert query(app, values) == "ok"

    kms = world.provider.client("kms")
    key = values["key_arn"]
    doc = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    # By hand: the role's decrypt statement gone, and IAM policies no longer count (the account statement names
    # the test's administrator and operator only), so the role's own kms:Decrypt is not enough.
    doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] == "EnableProviderAccountIamPolicies"]
    doc["Statement"][0]["Principal"] = {"AWS": [f"arn:aws:iam::{PROVIDER}:user/{u}"
                                                for u in (TEST_ADMIN_USER, "xacct-operator")]}
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(doc))
    refused = query(app, values)
    assert refused.startswith("SecretsErrorException") and "kms:Decrypt" in refused, refused

    # A grant whose constraint the request does not meet gives nothing; one for another operation neither.
    kms.create_grant(KeyId=key, GranteePrincipal=values["access_role_arn"], Operations=["Decrypt"],
                     Constraints={"EncryptionContextSubset": {"SecretARN": "arn:aws:secretsmanager:other"}})
    kms.create_grant(KeyId=key, GranteePrincipal=values["access_role_arn"], Operations=["Encrypt"])
    assert query(app, values).startswith("SecretsErrorException")
    grant = kms.create_grant(KeyId=key, GranteePrincipal=values["access_role_arn"], Operations=["Decrypt"],
                             Constraints={"EncryptionContextSubset": {"SecretARN": values["secret_arn"]}})["GrantId"]
    assert query(app, values) == "ok"  # the grant alone reaches the data, as on AWS

    doctor = invoke(["doctor"])
    assert doctor.exit_code == 1, doctor.output
    assert grant in " ".join(doctor.output.split())
    rerun = invoke(world.setup_args("--enable-data-api", "--yes"))
    assert rerun.exit_code == 1, rerun.output
    said = " ".join(rerun.output.split())
    assert f"grant {grant} on key {key} gives Decrypt to {values['access_role_arn']}" in said, said
    assert f"aws kms revoke-grant --key-id {key} --grant-id {grant}" in said


ROLE = f"arn:aws:iam::{PROVIDER}:role/app"
SESSION = Principal(f"arn:aws:sts::{PROVIDER}:assumed-role/app/s1", PROVIDER, ROLE)
KEY = f"arn:aws:kms:{REGION}:{PROVIDER}:key/1"
DENY_ALL = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}


def grant_question(who: Principal, policy=None, **grant) -> Question:
    g = {"GrantId": "g1", "GranteePrincipal": ROLE, "Operations": ["Decrypt"]} | grant
    return Question(who, "kms:Decrypt", KEY, {}, PROVIDER, policy or {"Statement": []}, KMS_KEY, grants=(g,))


def test_a_grant_allows_its_grantee_and_its_operations_only_and_never_beats_a_deny():
    assert decide(grant_question(SESSION)).allowed  # a role's grant covers its sessions
    assert decide(grant_question(SESSION)).matched == ("grant:g1",)
    other = Principal(f"arn:aws:iam::{PROVIDER}:user/someone", PROVIDER, f"arn:aws:iam::{PROVIDER}:user/someone")
    assert not decide(grant_question(other)).allowed
    assert not decide(grant_question(SESSION, Operations=["Encrypt"])).allowed
    assert decide(grant_question(SESSION, DENY_ALL)).decision == "explicitDeny"


def test_a_grant_to_another_account_needs_that_caller_s_identity_policy_too():
    outside = Principal(f"arn:aws:iam::{CONSUMER}:user/u", CONSUMER, f"arn:aws:iam::{CONSUMER}:user/u")
    without = grant_question(outside, GranteePrincipal=outside.arn)
    assert not decide(without).allowed
    allow = {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY}]}
    with_identity = Principal(outside.arn, CONSUMER, outside.principal_arn, (allow,))
    assert decide(grant_question(with_identity, GranteePrincipal=outside.arn)).allowed
