"""The sandbox authenticates every request as AWS does before it authorises any: the SigV4 signature must be made
with the access key's own secret, and an unknown key is refused even sts:GetCallerIdentity (which needs no
permission, but a valid caller). Was: only the key id was looked up, so a profile with a wrong or stale secret (a
bug in the credentials xacct writes for the application, or a rotated key) worked in the sandbox and would fail on
AWS, and GetCallerIdentity answered any key. In-process, as least-privilege operators (tests/helpers/operators.py)."""
from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import REGION
# requests are authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)

pytestmark = pytest.mark.usefixtures("fast_aws")


def code_of(call) -> str:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"]


def user_keys(admin: boto3.Session) -> tuple[str, str]:
    iam = admin.client("iam")
    iam.create_user(UserName="probe")
    iam.put_user_policy(UserName="probe", PolicyName="reads", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",'
        ' "Action": ["iam:GetUser", "ec2:DescribeVpcs", "s3:ListBucket"]}]}'))
    key = iam.create_access_key(UserName="probe")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def session(key_id: str, secret: str, token: str | None = None) -> boto3.Session:
    return boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=token,
                         region_name=REGION)


def test_a_request_signed_with_another_secret_is_refused(world):
    key_id, secret = user_keys(world.consumer)
    world.consumer.client("s3").create_bucket(Bucket="probe-bucket",
                                              CreateBucketConfiguration={"LocationConstraint": REGION})
    right, wrong = session(key_id, secret), session(key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert right.client("sts").get_caller_identity()["Arn"].endswith(":user/probe")
    assert right.client("iam").get_user(UserName="probe")["User"]["UserName"] == "probe"
    assert right.client("ec2").describe_vpcs()["Vpcs"]
    assert right.client("s3").list_objects_v2(Bucket="probe-bucket")["KeyCount"] == 0
    assert {service: code_of(call) for service, call in {
        "sts": lambda: wrong.client("sts").get_caller_identity(),
        "iam": lambda: wrong.client("iam").get_user(UserName="probe"),
        "ec2": lambda: wrong.client("ec2").describe_vpcs(),
        "s3": lambda: wrong.client("s3").list_objects_v2(Bucket="probe-bucket"),
    }.items()} == {"sts": "SignatureDoesNotMatch", "iam": "SignatureDoesNotMatch", "ec2": "AuthFailure",
                   "s3": "SignatureDoesNotMatch"}


def test_an_unknown_or_deleted_key_is_refused_even_get_caller_identity(world):
    key_id, secret = user_keys(world.consumer)
    assert code_of(lambda: session("AKIAUNKNOWN000000000", secret).client("sts").get_caller_identity()) == \
        "InvalidClientTokenId"
    world.consumer.client("iam").delete_access_key(UserName="probe", AccessKeyId=key_id)
    assert code_of(lambda: session(key_id, secret).client("sts").get_caller_identity()) == "InvalidClientTokenId"


def test_an_assumed_role_session_needs_its_own_secret_and_token(world):
    key_id, secret = user_keys(world.consumer)
    iam = world.consumer.client("iam")
    account = world.consumer.client("sts").get_caller_identity()["Account"]
    role = iam.create_role(RoleName="probe-role", AssumeRolePolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",'
        f' "Principal": {{"AWS": "arn:aws:iam::{account}:user/probe"}}}}]}}'))["Role"]["Arn"]
    iam.put_user_policy(UserName="probe", PolicyName="assume", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",'
        f' "Resource": "{role}"}}]}}'))
    creds = session(key_id, secret).client("sts").assume_role(RoleArn=role, RoleSessionName="probe")["Credentials"]
    ok = session(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert ":assumed-role/probe-role/probe" in ok.client("sts").get_caller_identity()["Arn"]
    bad_secret = session(creds["AccessKeyId"], secret, creds["SessionToken"])
    assert code_of(lambda: bad_secret.client("sts").get_caller_identity()) == "SignatureDoesNotMatch"
    no_token = session(creds["AccessKeyId"], creds["SecretAccessKey"])
    assert code_of(lambda: no_token.client("sts").get_caller_identity()) == "InvalidClientTokenId"


def test_an_unsigned_request_is_refused(world):
    """Was: a request without a signature skipped authorization altogether (and S3 answered it as allowed)."""
    from botocore import UNSIGNED
    from botocore.config import Config

    world.consumer.client("s3").create_bucket(Bucket="probe-bucket",
                                              CreateBucketConfiguration={"LocationConstraint": REGION})
    anonymous = boto3.Session(region_name=REGION)
    unsigned = Config(signature_version=UNSIGNED)
    assert {service: code_of(call) for service, call in {
        "sts": lambda: anonymous.client("sts", config=unsigned).get_caller_identity(),
        "iam": lambda: anonymous.client("iam", config=unsigned).list_users(),
        "kms": lambda: anonymous.client("kms", config=unsigned).list_keys(),
        "s3": lambda: anonymous.client("s3", config=unsigned).list_objects_v2(Bucket="probe-bucket"),
    }.items()} == {"sts": "MissingAuthenticationToken", "iam": "MissingAuthenticationToken",
                   "kms": "MissingAuthenticationTokenException", "s3": "AccessDenied"}
