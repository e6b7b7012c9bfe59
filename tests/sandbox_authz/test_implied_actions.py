"""A call AWS authorises as more than one action is checked for each of them in the sandbox, so a statement the
generated policy holds only for such an implied action can fail a test (docs/aws-facts.md, "The sandbox's
authorization"): CreateKey with tags is also kms:TagResource on every key of the account and Region; a secret value
under a customer managed key needs kms:GenerateDataKey and kms:Decrypt; an interface endpoint with private DNS needs
route53:AssociateVPCWithHostedZone. Was: each was checked as its one named action, and xacct's TagKeyAtCreation and
EndpointPrivateDns statements could be dropped with every test green. In-process, as least-privilege operators."""
from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli
from xacct_dataapi.sandbox import operators

pytestmark = pytest.mark.usefixtures("fast_aws")

KEYS = f"arn:aws:kms:{REGION}:{PROVIDER}:key/"
TAGS = [{"TagKey": "xacct:managed-by", "TagValue": "xacct"}]
CREATE_KEY = {"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*"}


def probe(admin: boto3.Session, *statements: dict) -> boto3.Session:
    """A new user of `admin`'s account whose only policy is `statements`."""
    iam, name = admin.client("iam"), f"probe-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="only",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                         region_name=REGION)


def refusal(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_a_key_created_with_tags_needs_tag_resource_on_every_key(world):
    admin = world.provider.client("kms")
    before = len(admin.list_keys()["Keys"])
    untagging = probe(world.provider, CREATE_KEY).client("kms")
    code, message = refusal(lambda: untagging.create_key(Tags=TAGS))
    assert code == "AccessDeniedException" and f"kms:TagResource on resource: {KEYS}*" in message
    one_key = probe(world.provider, CREATE_KEY, {"Effect": "Allow", "Action": "kms:TagResource",
                                                 "Resource": KEYS + "1234abcd-12ab-34cd-56ef-1234567890ab"})
    assert "kms:TagResource" in refusal(lambda: one_key.client("kms").create_key(Tags=TAGS))[1]
    assert len(admin.list_keys()["Keys"]) == before  # refused before anything was made
    untagged = untagging.create_key()["KeyMetadata"]["KeyId"]  # no tags: CreateKey alone
    assert admin.list_resource_tags(KeyId=untagged)["Tags"] == []
    every_key = probe(world.provider, CREATE_KEY, {
        "Effect": "Allow", "Action": "kms:TagResource", "Resource": KEYS + "*",
        "Condition": {"StringEquals": {"aws:RequestTag/xacct:managed-by": "xacct"}}})
    made = every_key.client("kms").create_key(Tags=TAGS)["KeyMetadata"]["KeyId"]
    assert admin.list_resource_tags(KeyId=made)["Tags"] == TAGS


def test_a_secret_value_under_a_customer_key_needs_generate_data_key_and_decrypt(world):
    key = world.provider.client("kms").create_key()["KeyMetadata"]["Arn"]  # default key policy: IAM decides
    create = {"Effect": "Allow", "Action": "secretsmanager:CreateSecret", "Resource": "*"}
    generate = {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key}
    only_generate = probe(world.provider, create, generate).client("secretsmanager")
    code, message = refusal(lambda: only_generate.create_secret(Name="s", SecretString="x", KmsKeyId=key))
    assert code == "AccessDeniedException" and f"kms:Decrypt on resource: {key}" in message
    assert world.provider.client("secretsmanager").list_secrets()["SecretList"] == []
    both = probe(world.provider, create, generate, {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key})
    arn = both.client("secretsmanager").create_secret(Name="s", SecretString="x", KmsKeyId=key)["ARN"]
    assert world.provider.client("secretsmanager").describe_secret(SecretId=arn)["KmsKeyId"] == key


def test_an_endpoint_with_private_dns_needs_associate_vpc_with_hosted_zone(world):
    ec2 = world.consumer.client("ec2")
    create = {"Effect": "Allow", "Action": "ec2:CreateVpcEndpoint", "Resource": "*"}
    ask = {"VpcEndpointType": "Interface", "VpcId": world.vpc_id, "ServiceName": f"com.amazonaws.{REGION}.rds-data",
           "SubnetIds": list(world.subnet_ids)}
    only_ec2 = probe(world.consumer, create).client("ec2")
    code, message = refusal(lambda: only_ec2.create_vpc_endpoint(**ask, PrivateDnsEnabled=True))
    assert code == "UnauthorizedOperation" and "route53:AssociateVPCWithHostedZone" in message
    assert refusal(lambda: only_ec2.create_vpc_endpoint(**ask))[0] == "UnauthorizedOperation"  # on by default
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []
    plain = only_ec2.create_vpc_endpoint(**ask, PrivateDnsEnabled=False)["VpcEndpoint"]
    assert plain["PrivateDnsEnabled"] is False
    ec2.delete_vpc_endpoints(VpcEndpointIds=[plain["VpcEndpointId"]])
    zones = probe(world.consumer, create, {"Effect": "Allow", "Action": "route53:AssociateVPCWithHostedZone",
                                           "Resource": "arn:aws:route53:::hostedzone/*"})
    assert zones.client("ec2").create_vpc_endpoint(**ask, PrivateDnsEnabled=True)["VpcEndpoint"]["PrivateDnsEnabled"]


@pytest.mark.parametrize("sid, side, action", [
    ("TagKeyAtCreation", "provider", "kms:TagResource"),
    ("EndpointPrivateDns", "consumer", "route53:AssociateVPCWithHostedZone")])
def test_setup_fails_without_the_statement_for_an_implied_action(world, password, sid, side, action):
    """The generated policy's statements for implied actions are load-bearing: without one, setup stops there."""
    admin = world.provider if side == "provider" else world.consumer
    doc = operators.generated_policy(side, region=REGION, provider=PROVIDER, consumer=CONSUMER,
                                     cluster=world.cluster_id, vpc=world.vpc_id)
    assert sid in [s["Sid"] for s in doc["Statement"]]
    doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != sid]
    operators.attach(admin.client("iam"), doc)
    result = CliRunner().invoke(cli, world.setup_args("--enable-data-api", "--yes"), catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert action in " ".join(result.output.split())
