"""The sandbox decides who may do what as AWS does (docs/sandbox.md): through a real sandbox server on 127.0.0.1,
the consumer's admin cannot use the provider's cluster, the access role admits only the consumer principal with the
external id, the application's profile works, and removing one grant by hand makes `verify` and `doctor` fail at
that link."""
from __future__ import annotations

import json
import os

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_connect import app_profile_files, home, run, sb, setup, teardown  # noqa: F401 (fixtures)
from xacct_dataapi.sandbox import operators

pytestmark = pytest.mark.server


def code_of(call) -> str:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_the_consumer_admin_cannot_run_statements_on_the_provider_cluster(sb, home):
    rdsdata = boto3.Session(profile_name=sb.consumer_profile).client("rds-data")
    code, message = code_of(lambda: rdsdata.execute_statement(
        resourceArn=sb.cluster_arn, secretArn=f"arn:aws:secretsmanager:{sb.region}:{sb.provider_account}:secret:x",
        sql="select 1"))
    assert code == "AccessDeniedException"
    assert f"arn:aws:iam::{sb.consumer_account}:user/xacct-sandbox-admin" in message
    assert "rds-data:ExecuteStatement" in message and sb.cluster_arn in message
    # Nor read the provider's secrets or use its keys: another account's resources need their own policy's allow.
    sm = boto3.Session(profile_name=sb.consumer_profile).client("secretsmanager")
    assert code_of(lambda: sm.get_secret_value(
        SecretId=f"arn:aws:secretsmanager:{sb.region}:{sb.provider_account}:secret:x"))[0] == "AccessDeniedException"


def test_assume_role_needs_the_external_id_and_the_named_principal(sb, home, monkeypatch):
    state = setup(sb, home, "trust")
    role, external_id = state["values"]["access_role_arn"], state["values"]["external_id"]
    user = state["values"]["consumer_principal_arn"].rsplit("/", 1)[-1]
    with monkeypatch.context() as mp:
        for k, v in app_profile_files(sb, home, user).items():
            mp.setenv(k, v)
        sts = boto3.Session(profile_name="app").client("sts")
        assert code_of(lambda: sts.assume_role(RoleArn=role, RoleSessionName="app"))[0] == "AccessDenied"
        assert code_of(lambda: sts.assume_role(RoleArn=role, RoleSessionName="app",
                                               ExternalId="wrong"))[0] == "AccessDenied"
        creds = sts.assume_role(RoleArn=role, RoleSessionName="app", ExternalId=external_id)["Credentials"]
        as_role = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                aws_session_token=creds["SessionToken"], region_name=sb.region)
        rdsdata = as_role.client("rds-data", endpoint_url=sb.endpoint_url)
        got = rdsdata.execute_statement(resourceArn=sb.cluster_arn, secretArn=state["values"]["secret_arn"],
                                        sql="select 1", database="app")
        assert "records" in got or "numberOfRecordsUpdated" in got
        # The role reads the secret only through the Data API's path (rds-data), not directly for any version.
        sm = as_role.client("secretsmanager", endpoint_url=sb.endpoint_url)
        assert code_of(lambda: sm.get_secret_value(SecretId=state["values"]["secret_arn"],
                                                   VersionStage="AWSPREVIOUS"))[0] == "AccessDeniedException"
    # The consumer admin is not the principal the trust policy names, even with the external id.
    admin_sts = boto3.Session(profile_name=sb.consumer_profile).client("sts")
    code, message = code_of(lambda: admin_sts.assume_role(RoleArn=role, RoleSessionName="admin", ExternalId=external_id))
    assert code == "AccessDenied" and f"user/xacct-sandbox-admin is not authorized to perform: sts:AssumeRole" in message
    teardown(sb, home, "trust")


def _provider(sb, service):
    return boto3.Session(profile_name=sb.provider_profile).client(service)


def _drop_statement(doc: dict, sid: str) -> str:
    doc = dict(doc)
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != sid]
    assert doc["Statement"], sid
    return json.dumps(doc)


def app_statement(sb, home, monkeypatch, values: dict) -> None:
    """The application's path: a key of the consumer user, AssumeRole with the external id, one statement (from inside
    the VPC when AWS_ENDPOINT_URL_RDS_DATA says so, as in `sandbox up`'s environment for an application there)."""
    iam = boto3.Session(profile_name=sb.consumer_profile).client("iam")
    user = values["consumer_principal_arn"].rsplit("/", 1)[-1]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    try:
        app = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                            region_name=sb.region)
        creds = app.client("sts", endpoint_url=sb.endpoint_url).assume_role(
            RoleArn=values["access_role_arn"], RoleSessionName="app", ExternalId=values["external_id"])["Credentials"]
    finally:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    as_role = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"], region_name=sb.region)
    rds_data_url = os.environ.get("AWS_ENDPOINT_URL_RDS_DATA", sb.endpoint_url)
    as_role.client("rds-data", endpoint_url=rds_data_url).execute_statement(
        resourceArn=values["cluster_arn"], secretArn=values["secret_arn"], sql="select 1", database="app")


def _broken_then_restored(sb, home, monkeypatch, name: str, break_it, link: str, code: str, denied: str):
    state = setup(sb, home, name)
    app_statement(sb, home, monkeypatch, state["values"])  # works before
    break_it(state["values"])
    # verify refuses (status sees the drift first); the application's own call is refused by AWS's rules.
    assert "OK" not in run(sb, home, "verify", "--name", name, "--wait-timeout", "2", code=1).stdout
    with pytest.raises(ClientError) as err:
        app_statement(sb, home, monkeypatch, state["values"])
    assert err.value.response["Error"]["Code"] == code
    assert denied in err.value.response["Error"]["Message"]
    doctor = json.loads(run(sb, home, "doctor", "--name", name, "--output", "json", code=None).stdout)
    failed = {c["id"]: c for c in doctor["checks"] if c["status"] == "fail"}
    assert link in failed, sorted(failed)
    teardown(sb, home, name)
    return next(c for c in doctor["checks"] if c["id"] == "iam.simulate")


def test_without_the_secret_policy_exemption_the_data_api_cannot_read_the_secret(sb, home, monkeypatch):
    def break_it(values):
        sm = _provider(sb, "secretsmanager")
        doc = json.loads(sm.get_resource_policy(SecretId=values["secret_arn"])["ResourcePolicy"])
        # The Deny for everyone else stays: the access role is exempt from it, and its identity policy still allows,
        # so AWS (same account) still allows. Remove the exemption instead: the Deny then covers the role.
        deny = next(s for s in doc["Statement"] if s["Sid"] == "DenyReadToAnyoneElse")
        deny["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/someone-else"}}
        sm.put_resource_policy(SecretId=values["secret_arn"], ResourcePolicy=json.dumps(doc))

    simulate = _broken_then_restored(sb, home, monkeypatch, "nosecret", break_it, "secret.policy",
                                     "SecretsErrorException", "secretsmanager:GetSecretValue")
    assert simulate["status"] == "fail" and "secretsmanager:GetSecretValue" in simulate["evidence"]
    assert "explicitDeny" in simulate["evidence"]


def test_without_the_key_policy_grant_secrets_manager_cannot_decrypt(sb, home, monkeypatch):
    def break_it(values):
        kms = _provider(sb, "kms")
        key = kms.describe_key(KeyId="alias/xacct-nokey")["KeyMetadata"]["Arn"]
        doc = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
        # Without the account statement IAM policies no longer count; without the grant the role cannot decrypt.
        doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] == "EnableProviderAccountIamPolicies"]
        # The account statement names the admin and the operator (so doctor, run as the operator, still reads it).
        doc["Statement"][0]["Principal"] = {"AWS": [f"arn:aws:iam::{sb.provider_account}:user/{user}"
                                                    for user in ("xacct-sandbox-admin", operators.OPERATOR_USER)]}
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(doc))

    simulate = _broken_then_restored(sb, home, monkeypatch, "nokey", break_it, "key.policy",
                                     "SecretsErrorException", "kms:Decrypt")
    assert simulate["status"] == "fail" and "kms:Decrypt" in simulate["evidence"]


def test_without_the_role_rds_data_statement_the_data_api_refuses(sb, home, monkeypatch):
    def break_it(values):
        iam = _provider(sb, "iam")
        name = values["access_role_arn"].rsplit("/", 1)[-1]
        policy = iam.list_role_policies(RoleName=name)["PolicyNames"][0]
        doc = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=_drop_statement(doc, "RunDataApiStatements"))

    simulate = _broken_then_restored(sb, home, monkeypatch, "nordsdata", break_it, "role.permissions",
                                     "AccessDeniedException", "rds-data:ExecuteStatement")
    assert simulate["status"] == "fail" and "rds-data:ExecuteStatement" in simulate["evidence"]
    assert "implicitDeny" in simulate["evidence"]


def test_simulate_principal_policy_input_rules(sb, home):
    iam = _provider(sb, "iam")
    role = iam.create_role(RoleName="sim-role", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": sb.provider_account},
                                                 "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName="sim-role", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds-data:ExecuteStatement",
                                                 "Resource": sb.cluster_arn,
                                                 "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]}))
    code, _ = code_of(lambda: iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:GetObject"],
                                                            ResourcePolicy="{}"))
    assert code == "InvalidInput"
    code, _ = code_of(lambda: iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:GetObject"],
                                                            ResourcePolicy="{}", CallerArn=role))
    assert code == "InvalidInput"
    plain = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["rds-data:ExecuteStatement"],
                                          ResourceArns=[sb.cluster_arn])["EvaluationResults"][0]
    assert plain["EvalDecision"] == "implicitDeny" and plain["MissingContextValues"] == ["aws:SourceVpce"]
    through = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["rds-data:ExecuteStatement"],
                                            ResourceArns=[sb.cluster_arn], ContextEntries=[{
                                                "ContextKeyName": "aws:SourceVpce", "ContextKeyType": "string",
                                                "ContextKeyValues": ["vpce-1"]}])["EvaluationResults"][0]
    assert through["EvalDecision"] == "allowed"
    iam.delete_role_policy(RoleName="sim-role", PolicyName="p")
    iam.delete_role(RoleName="sim-role")


def test_every_service_xacct_calls_is_authorised(sb, home):
    """Each service's requests go through the sandbox's authorisation, not only some: an ungranted call by the
    operators is refused with that service's own error code. Was: limits.py wrapped EC2's handler around moto's
    original one, so every EC2 request skipped authorisation and an EC2 gap in `xacct permissions` could not fail a
    test (the generated tag-key condition compared `xacct:member:*` with StringEquals, refused on AWS)."""
    consumer = boto3.Session(profile_name=sb.operator_consumer_profile)
    provider = boto3.Session(profile_name=sb.operator_provider_profile)
    elsewhere = f"arn:aws:iam::{sb.provider_account}:role/not-xacct"
    refused = {
        "ec2": lambda: consumer.client("ec2").create_vpc(CidrBlock="10.9.0.0/16"),
        "iam": lambda: consumer.client("iam").create_user(UserName="not-xacct"),
        "sts": lambda: consumer.client("sts").assume_role(RoleArn=elsewhere, RoleSessionName="probe"),
        "kms": lambda: provider.client("kms").create_key(),  # untagged: the operator may only make tagged keys
        "secretsmanager": lambda: provider.client("secretsmanager").create_secret(Name="not-xacct", SecretString="x"),
        "rds": lambda: provider.client("rds").delete_db_cluster(DBClusterIdentifier=sb.cluster_arn.rsplit(":", 1)[-1],
                                                                SkipFinalSnapshot=True),
        "s3": lambda: consumer.client("s3").create_bucket(
            Bucket="not-xacct", CreateBucketConfiguration={"LocationConstraint": sb.region}),
    }
    codes = {service: code_of(call)[0] for service, call in refused.items()}
    assert codes == {"ec2": "UnauthorizedOperation", "iam": "AccessDenied", "sts": "AccessDenied",
                     "kms": "AccessDeniedException", "secretsmanager": "AccessDeniedException",
                     "rds": "AccessDenied", "s3": "AccessDenied"}
    ec2 = boto3.Session(profile_name=sb.consumer_profile).client("ec2")
    assert not [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.9.0.0/16"]  # and nothing was made
