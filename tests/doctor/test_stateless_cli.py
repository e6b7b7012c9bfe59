"""Doctor of a chain built with plain boto3 calls (no xacct, no state file), the CLI's exit codes and output,
the live statement, and the shapes of the operations moto does not simulate (botocore Stubber validates them
against the service model)."""
from __future__ import annotations

import io
import json

from botocore.stub import Stubber
from rich.console import Console
from typer.testing import CliRunner

import pytest

from tests.helpers.accounts import CONSUMER, PROVIDER
from tests.helpers.operators import grant
from xacct_dataapi import doctor
from xacct_dataapi.cli import cli
from xacct_dataapi.doctor import reads
from xacct_dataapi.doctor.model import FAIL, OK, SKIPPED
from xacct_dataapi.doctor.render import table
from xacct_dataapi.doctor.run import hop_of
from xacct_dataapi.errors import AwsError


EXTERNAL_ID = "hand-made-external-id-0001"


def build_by_hand(world) -> dict:
    """The recipe, step by step, with boto3 only: names and Sids of our own choosing, made by each account's
    administrator (world.consumer / world.provider). doctor runs as tests/doctor's least-privilege operators."""
    kms, sm = world.provider.client("kms"), world.provider.client("secretsmanager")
    iam_p, iam_c, ec2 = world.provider.client("iam"), world.consumer.client("iam"), world.consumer.client("ec2")
    user = iam_c.create_user(UserName="orders-app")["User"]["Arn"]
    key = kms.create_key(Description="orders db creds")["KeyMetadata"]
    secret = sm.create_secret(Name="orders/db", KmsKeyId=key["Arn"], SecretString=json.dumps(
        {"username": "app_user", "password": "hand-made-pw-9", "engine": "postgres", "dbname": "orders"}))["ARN"]
    role = iam_p.create_role(RoleName="orders-data-api", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Trust", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{CONSUMER}:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}, "ArnEquals": {"aws:PrincipalArn": user}}}]}))["Role"]["Arn"]
    # The key grant names the principal that decrypts: the access role, via Secrets Manager (xacct's step 2).
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PROVIDER}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "AccessRole", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PROVIDER}:root"},
         "Action": "kms:Decrypt", "Resource": "*", "Condition": {
             "StringEquals": {"kms:ViaService": "secretsmanager.us-west-2.amazonaws.com", "kms:CallerAccount": PROVIDER},
             "ArnEquals": {"aws:PrincipalArn": role}}}]}))
    current = {"StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"}, "Null": {"secretsmanager:VersionId": "true"}}
    iam_p.put_role_policy(RoleName="orders-data-api", PolicyName="data-api", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["rds-data:ExecuteStatement", "rds-data:BatchExecuteStatement", "rds-data:BeginTransaction",
                                       "rds-data:CommitTransaction", "rds-data:RollbackTransaction"], "Resource": world.cluster_arn},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret, "Condition": current},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"],
         "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-west-2.amazonaws.com"}}}]}))
    sm.put_resource_policy(SecretId=secret, ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "secretsmanager:GetSecretValue", "Resource": secret,
         "Condition": current},
        {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": secret,
         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": role}}}]}))
    iam_c.put_user_policy(UserName="orders-app", PolicyName="assume", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}]}))
    sg = ec2.create_security_group(GroupName="rds-data", Description="https", VpcId=world.vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": world.vpc_cidr}]}])
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=world.vpc_id, ServiceName="com.amazonaws.us-west-2.rds-data",
                                 SubnetIds=list(world.subnet_ids), SecurityGroupIds=[sg], PrivateDnsEnabled=True)["VpcEndpoint"]
    world.provider.client("rds").modify_db_cluster(DBClusterIdentifier=world.cluster_id, EnableHttpEndpoint=True,
                                                   ApplyImmediately=True)
    return {"role": role, "secret": secret, "key": key["Arn"], "endpoint": ep["VpcEndpointId"], "user": user}


def stateless_args(world, *extra) -> list[str]:
    return ["doctor", "--consumer-profile", "consumer", "--provider-profile", "provider", "--cluster", world.cluster_id,
            "--vpc", world.vpc_id, *extra]


def test_stateless_doctor_finds_a_chain_built_with_plain_boto3(world, calls):
    made = build_by_hand(world)
    # The administrator's `xacct permissions --for all --consumer-user orders-app --role-arn ROLE --secret-arn SECRET`:
    # the chain's names are not xacct's, so the operators may read them only when granted.
    grant(world, consumer_user="orders-app", role_arn=made["role"], secret_arn=made["secret"])
    report = doctor.run(None, consumer_profile="consumer", provider_profile="provider", cluster=world.cluster_id,
                        vpc=world.vpc_id, role_arn=made["role"])
    assert [c.to_json() for c in report.checks if c.status == FAIL] == []
    ev = {c.id: c.evidence for c in report.checks}
    assert made["endpoint"] in ev["endpoint.exists"]
    assert made["secret"] in ev["secret.exists"]  # found from the role's permissions, not guessed
    assert made["key"] in ev["secret.kms-key"]
    assert report.get("role.trust").status == OK  # external id read from the trust policy; Sids ignored
    # The operator's simulation of the role is answered (a denied SimulatePrincipalPolicy would be SKIPPED, not FAIL).
    assert report.get("iam.simulate").status == OK, report.get("iam.simulate")
    # Everything passed, but verify acts only as the consumer principal, and doctor holds no key of a user it did
    # not create: the live statement is skipped, naming --as-profile, never faked with the operator's profile.
    live = report.get("live.statement")
    assert live.status == SKIPPED and "--as-profile" in live.fix
    assert calls.mutating() == []
    assert "hand-made-pw-9" not in json.dumps(report.to_json())


def test_stateless_doctor_reports_what_it_cannot_find(world):
    build_by_hand(world)
    report = doctor.run(None, consumer_profile="consumer", provider_profile="provider", cluster=world.cluster_id,
                        vpc=world.vpc_id)
    assert "no --role-arn given" in report.get("role.exists").evidence
    assert "no --secret-arn given" in report.get("secret.exists").evidence
    assert report.get("key.policy").status == SKIPPED and report.get("live.statement").status == SKIPPED
    assert report.get("endpoint.exists").status == OK


def test_cli_healthy_exits_0_and_json_shape(deployed):
    runner = CliRunner()
    res = runner.invoke(cli, ["doctor", "--name", "orders"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "provider · cluster" in res.stdout and "healthy" in res.stdout
    res = runner.invoke(cli, ["doctor", "--name", "orders", "--output", "json"], catch_exceptions=False)
    doc = json.loads(res.stdout)
    assert set(doc) == {"checks", "summary"} and doc["summary"]["fail"] == 0
    assert all(set(c) >= {"id", "link", "status", "evidence", "fix"} for c in doc["checks"])


def test_cli_failing_check_exits_1_and_usage_exits_2(deployed, world):
    world.provider.client("rds").modify_db_cluster(DBClusterIdentifier=world.cluster_id, EnableHttpEndpoint=False,
                                                   ApplyImmediately=True)
    runner = CliRunner()
    res = runner.invoke(cli, ["doctor", "--name", "orders", "--output", "json"], catch_exceptions=False)
    assert res.exit_code == 1
    assert json.loads(res.stdout)["summary"]["first_failure"] == "cluster.data-api"
    res = runner.invoke(cli, ["doctor", "--consumer-profile", "consumer", "--provider-profile", "provider",
                              "--cluster", world.cluster_id], catch_exceptions=False)
    assert res.exit_code == 2 and "--vpc" in res.output
    res = runner.invoke(cli, ["doctor", "--name", "nope"], catch_exceptions=False)
    assert res.exit_code == 2


def test_table_is_readable_at_80_columns(deployed):
    world = deployed.world
    world.provider.client("rds").modify_db_cluster(DBClusterIdentifier=world.cluster_id, EnableHttpEndpoint=False,
                                                   ApplyImmediately=True)
    out = io.StringIO()
    Console(file=out, width=80, markup=False, highlight=False).print(table(doctor.run(deployed.path)))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    text = out.getvalue()
    for check_id in ("cluster.data-api", "secret.policy.extra", "nacl.https", "live.statement"):
        assert check_id in text
    assert "enable-http-endpoint" in text.replace("\n", "")


def test_live_runs_with_flag_and_maps_a_failure_to_its_hop(deployed, monkeypatch):
    report = doctor.run(deployed.path, live=True)  # mints verify's temporary key for the user xacct created
    assert report.get("live.statement").status == OK, report.get("live.statement")
    from xacct_dataapi import verify as verify_mod

    def denied(*a, **k):
        raise AwsError("Verification failed: AccessDenied: User: arn:aws:iam::111111111111:user/x is not authorized "
                       "to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/y.")
    monkeypatch.setattr(verify_mod, "verify", denied)
    live = doctor.run(deployed.path, live=True).get("live.statement")
    assert live.status == FAIL and "consumer principal -> access role" in live.evidence and live.fix
    assert hop_of("AccessDeniedException: not authorized to perform: rds-data:ExecuteStatement").startswith("access role -> Data API")
    assert hop_of("BadRequestException: Secrets Manager could not decrypt (kms)").startswith("access role -> secret")
    assert hop_of("Connect timeout on endpoint URL").startswith("application -> endpoint")


class _Aws:
    def __init__(self, client):
        self._client = client

    def client(self, account, service):
        return self._client


def test_operations_moto_lacks_match_the_botocore_model():
    """Stubber validates request parameters and responses against botocore's model."""
    import boto3

    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(iam) as stub:
        stub.add_response("simulate_principal_policy", {"EvaluationResults": [
            {"EvalActionName": "rds-data:ExecuteStatement", "EvalDecision": "implicitDeny", "MatchedStatements": []}]},
            # A role as the source: no ResourcePolicy (IAM's InvalidInput without a user CallerArn), the condition keys
            # of the real request instead.
            {"PolicySourceArn": "arn:aws:iam::222222222222:role/r", "ActionNames": ["rds-data:ExecuteStatement"],
             "ResourceArns": ["arn:aws:rds:us-west-2:222222222222:cluster:c"],
             "ContextEntries": [{"ContextKeyName": "aws:SourceVpce", "ContextKeyType": "string",
                                 "ContextKeyValues": ["vpce-1"]}]})
        got = reads.simulate(_Aws(iam), "arn:aws:iam::222222222222:role/r", "rds-data:ExecuteStatement",
                             "arn:aws:rds:us-west-2:222222222222:cluster:c",
                             [{"ContextKeyName": "aws:SourceVpce", "ContextKeyType": "string", "ContextKeyValues": ["vpce-1"]}])
        assert got["EvalDecision"] == "implicitDeny"
    r53 = boto3.client("route53", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(r53) as stub:
        stub.add_response("list_hosted_zones_by_vpc", {"HostedZoneSummaries": [
            {"HostedZoneId": "Z1", "Name": "rds-data.us-west-2.amazonaws.com.", "Owner": {"OwningAccount": "444444444444"}}],
            "MaxItems": "100"}, {"VPCId": "vpc-0abc12345", "VPCRegion": "us-west-2"})
        assert reads.private_hosted_zones(_Aws(r53), "vpc-0abc12345", "us-west-2")[0]["HostedZoneId"] == "Z1"
    ec2 = boto3.client("ec2", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(ec2) as stub:
        stub.add_response("describe_vpc_endpoint_services", {"ServiceDetails": [
            {"ServiceName": "com.amazonaws.us-west-2.rds-data", "AvailabilityZones": ["us-west-2a"],
             "VpcEndpointPolicySupported": False}]}, {"ServiceNames": ["com.amazonaws.us-west-2.rds-data"]})
        got = reads.endpoint_service(_Aws(ec2), "com.amazonaws.us-west-2.rds-data")
        assert got["AvailabilityZones"] == ["us-west-2a"] and got["VpcEndpointPolicySupported"] is False

