"""The sandbox refuses what AWS refuses (xacct_dataapi/sandbox/limits.py): one test per limit or uniqueness rule, each
through the sandbox's server with the two accounts' own profiles, asserting AWS's error code and message shape, that
the limit itself is still accepted, and that nothing was made by the refused request."""
from __future__ import annotations

import json
import threading

import pytest

pytest.importorskip("moto.server")

from botocore.exceptions import ClientError  # noqa: E402

from tests.test_sandbox import client, use_profiles  # noqa: E402
from xacct_dataapi.sandbox import CONSUMER_PROFILE, PROVIDER_PROFILE, Sandbox  # noqa: E402
from xacct_dataapi.sandbox import MOTO_LOCK, limits  # noqa: E402

pytestmark = pytest.mark.server
SERVICE = "com.amazonaws.us-west-2.rds-data"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("limits")) as sb:
        yield sb.info


@pytest.fixture
def info(sandbox, monkeypatch):
    use_profiles(monkeypatch, sandbox)
    return sandbox


def refused(call, **params) -> dict:
    with pytest.raises(ClientError) as e:
        call(**params)
    return e.value.response["Error"]


def policy_of_length(n: int) -> str:
    base = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "rds-data:*",
                                                    "Resource": "*", "Sid": ""}]}
    pad = n - len(json.dumps(base))
    base["Statement"][0]["Sid"] = "x" * pad
    doc = json.dumps(base)
    assert len(doc) == n
    return doc


def endpoints(ec2, vpc_id) -> list[dict]:
    return [e for e in ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
            if e["State"] not in ("deleted", "deleting")]


def test_one_private_dns_endpoint_per_service_per_vpc(info):
    ec2 = client(CONSUMER_PROFILE, "ec2")
    args = dict(VpcEndpointType="Interface", VpcId=info.vpc_id, ServiceName=SERVICE, SubnetIds=list(info.subnet_ids))
    first = ec2.create_vpc_endpoint(**args, PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"]
    err = refused(ec2.create_vpc_endpoint, **args, PrivateDnsEnabled=True)
    assert err["Code"] == "InvalidParameter"
    assert err["Message"] == ("private-dns-enabled cannot be set because there is already a conflicting DNS domain "
                              f"for rds-data.us-west-2.amazonaws.com in the VPC {info.vpc_id}")
    assert [e["VpcEndpointId"] for e in endpoints(ec2, info.vpc_id)] == [first]  # nothing was made
    # Without private DNS a second endpoint is allowed; it cannot then switch private DNS on.
    second = ec2.create_vpc_endpoint(**args, PrivateDnsEnabled=False)["VpcEndpoint"]["VpcEndpointId"]
    assert refused(ec2.modify_vpc_endpoint, VpcEndpointId=second, PrivateDnsEnabled=True)["Code"] == "InvalidParameter"
    ec2.delete_vpc_endpoints(VpcEndpointIds=[first, second])
    # Once the first is deleted, the name is free again.
    third = ec2.create_vpc_endpoint(**args, PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[third])


def test_endpoint_policy_at_most_20480_characters_whitespace_included(info):
    ec2 = client(CONSUMER_PROFILE, "ec2")
    args = dict(VpcEndpointType="Interface", VpcId=info.vpc_id, ServiceName=SERVICE, SubnetIds=list(info.subnet_ids),
                PrivateDnsEnabled=False)
    err = refused(ec2.create_vpc_endpoint, **args, PolicyDocument=policy_of_length(20_481))
    assert err["Code"] == "InvalidParameter" and "20480" in err["Message"]
    assert endpoints(ec2, info.vpc_id) == []
    ep = ec2.create_vpc_endpoint(**args, PolicyDocument=policy_of_length(20_480))["VpcEndpoint"]["VpcEndpointId"]
    # White space counts: the same document, indented, is over the limit.
    padded = json.dumps(json.loads(policy_of_length(20_470)), indent=4)
    assert len(padded) > 20_480 and len(json.dumps(json.loads(padded))) <= 20_480
    assert refused(ec2.modify_vpc_endpoint, VpcEndpointId=ep, PolicyDocument=padded)["Code"] == "InvalidParameter"
    (kept,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[ep])["VpcEndpoints"]
    assert len(kept["PolicyDocument"]) == 20_480
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep])


def test_ec2_tag_key_128_value_256_and_50_per_resource(info):
    ec2 = client(CONSUMER_PROFILE, "ec2")
    spec = lambda tags: [{"ResourceType": "security-group", "Tags": tags}]  # noqa: E731
    err = refused(ec2.create_security_group, GroupName="long-value", Description="d", VpcId=info.vpc_id,
                  TagSpecifications=spec([{"Key": "k", "Value": "v" * 257}]))
    assert err["Code"] == "InvalidParameterValue" and "Tag value exceeds the maximum length of 256" in err["Message"]
    names = [g["GroupName"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [info.vpc_id]}])["SecurityGroups"]]
    assert "long-value" not in names  # the create was refused whole
    err = refused(ec2.create_security_group, GroupName="many", Description="d", VpcId=info.vpc_id,
                  TagSpecifications=spec([{"Key": f"k{i}", "Value": "v"} for i in range(51)]))
    assert err["Code"] == "TagLimitExceeded"
    sg = ec2.create_security_group(GroupName="at-limits", Description="d", VpcId=info.vpc_id, TagSpecifications=spec(
        [{"Key": "k" * 128, "Value": "v" * 256}, *({"Key": f"k{i}", "Value": "v"} for i in range(49))]))["GroupId"]
    err = refused(ec2.create_tags, Resources=[sg], Tags=[{"Key": "k" * 129, "Value": "v"}])
    assert err["Code"] == "InvalidParameterValue" and "Tag key exceeds the maximum length of 128" in err["Message"]
    assert refused(ec2.create_tags, Resources=[sg], Tags=[{"Key": "one-more", "Value": "v"}])["Code"] == "TagLimitExceeded"
    ec2.create_tags(Resources=[sg], Tags=[{"Key": "k0", "Value": "overwriting is not one more"}])
    ec2.delete_security_group(GroupId=sg)


def test_iam_names_paths_and_policy_sizes(info):
    iam = client(PROVIDER_PROFILE, "iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{info.consumer_account}:root"}, "Action": "sts:AssumeRole"}]}
    err = refused(iam.create_role, RoleName="r" * 65, AssumeRolePolicyDocument=json.dumps(trust))
    assert err["Code"] == "ValidationError" and "at 'roleName'" in err["Message"] and "less than or equal to 64" in err["Message"]
    assert refused(iam.create_role, RoleName="r", Path="/" + "p" * 511 + "/",
                   AssumeRolePolicyDocument=json.dumps(trust))["Code"] == "ValidationError"
    big_trust = {**trust, "Statement": trust["Statement"] * 25}
    assert limits.iam_size(json.dumps(big_trust)) > 2048
    err = refused(iam.create_role, RoleName="big-trust", AssumeRolePolicyDocument=json.dumps(big_trust))
    assert err == {**err, "Code": "LimitExceeded", "Message": "Cannot exceed quota for ACLSizePerRole: 2048"}
    iam.create_role(RoleName="r" * 64, AssumeRolePolicyDocument=json.dumps(trust, indent=8))  # white space is free
    err = refused(iam.update_assume_role_policy, RoleName="r" * 64, PolicyDocument=json.dumps(big_trust))
    assert err["Code"] == "LimitExceeded"

    def inline(n_chars: int) -> str:
        doc = {"Version": "2012-10-17", "Statement": [{"Sid": "", "Effect": "Allow", "Action": "s3:GetObject",
                                                       "Resource": "*"}]}
        doc["Statement"][0]["Sid"] = "x" * (n_chars - limits.iam_size(json.dumps(doc)))
        return json.dumps(doc, indent=2)

    iam.put_role_policy(RoleName="r" * 64, PolicyName="a", PolicyDocument=inline(6000))
    err = refused(iam.put_role_policy, RoleName="r" * 64, PolicyName="b", PolicyDocument=inline(4241))
    assert err == {**err, "Code": "LimitExceeded", "Message": f"Maximum policy size of 10240 bytes exceeded for role {'r' * 64}"}
    iam.put_role_policy(RoleName="r" * 64, PolicyName="b", PolicyDocument=inline(4240))  # exactly 10,240 together
    iam.put_role_policy(RoleName="r" * 64, PolicyName="a", PolicyDocument=inline(6000))  # replacing is not adding
    consumer_iam = client(CONSUMER_PROFILE, "iam")
    assert refused(consumer_iam.create_user, UserName="u" * 65)["Code"] == "ValidationError"
    consumer_iam.create_user(UserName="u" * 64)
    err = refused(consumer_iam.put_user_policy, UserName="u" * 64, PolicyName="p", PolicyDocument=inline(2049))
    assert err["Code"] == "LimitExceeded" and "2048 bytes exceeded for user" in err["Message"]
    assert refused(consumer_iam.put_user_policy, UserName="u" * 64, PolicyName="p" * 129,
                   PolicyDocument=inline(100))["Code"] == "ValidationError"


def test_a_secret_name_scheduled_for_deletion_cannot_be_reused(info):
    sm = client(PROVIDER_PROFILE, "secretsmanager")
    sm.create_secret(Name="limits/db", SecretString="x")
    sm.delete_secret(SecretId="limits/db", RecoveryWindowInDays=7)
    err = refused(sm.create_secret, Name="limits/db", SecretString="y")
    assert err == {**err, "Code": "InvalidRequestException",
                   "Message": "You can't create this secret because a secret with this name is already scheduled for deletion."}
    sm.restore_secret(SecretId="limits/db")
    assert sm.describe_secret(SecretId="limits/db").get("DeletedDate") is None


def test_kms_alias_rules(info):
    kms = client(PROVIDER_PROFILE, "kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert refused(kms.create_alias, AliasName="alias/aws/xacct-mine", TargetKeyId=key)["Code"] == "NotAuthorizedException"
    err = refused(kms.create_alias, AliasName="alias/" + "a" * 251, TargetKeyId=key)
    assert err["Code"] == "ValidationException" and "less than or equal to 256" in err["Message"]
    kms.create_alias(AliasName="alias/" + "a" * 250, TargetKeyId=key)
    assert refused(kms.create_alias, AliasName="alias/" + "a" * 250, TargetKeyId=key)["Code"] == "AlreadyExistsException"
    names = {a["AliasName"] for a in kms.list_aliases(KeyId=key)["Aliases"]}
    assert names == {"alias/" + "a" * 250}


def test_kms_list_aliases_answers_in_pages(info):
    kms = client(PROVIDER_PROFILE, "kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    made = [f"alias/pages/{n:02}" for n in range(7)]
    for alias in made:
        kms.create_alias(AliasName=alias, TargetKeyId=key)
    assert refused(kms.list_aliases, KeyId=key, Limit=101)["Code"] == "ValidationException"
    first = kms.list_aliases(KeyId=key, Limit=5)
    assert len(first["Aliases"]) == 5 and first["Truncated"] and first["NextMarker"]
    rest = kms.list_aliases(KeyId=key, Limit=5, Marker=first["NextMarker"])
    assert len(rest["Aliases"]) == 2 and not rest["Truncated"] and "NextMarker" not in rest
    assert sorted(a["AliasName"] for a in first["Aliases"] + rest["Aliases"]) == made


def test_kms_list_grants_of_a_key_that_is_gone_is_not_found(info):
    """A new user's trial: `xacct status` of a deployment whose key was gone (its state file outlived a sandbox)
    failed on an HTML "500 Internal Server Error" from ListGrants, where AWS answers NotFoundException."""
    kms = client(PROVIDER_PROFILE, "kms")
    gone = "faf0e0ff-d9a0-4253-81b5-8b1c819af251"
    err = refused(kms.list_grants, KeyId=gone)
    assert err["Code"] == "NotFoundException" and gone in err["Message"] and "does not exist" in err["Message"]
    key = kms.create_key()["KeyMetadata"]["Arn"]
    assert kms.list_grants(KeyId=key)["Grants"] == []  # a key that exists still answers


def _finishes_while_the_lock_is_held(call, seconds: float) -> bool:
    """Whether `call()` in another thread finishes within `seconds` while this thread holds MOTO_LOCK (as a request
    mid-flight does); after the lock is released it must finish either way."""
    done = threading.Event()

    def run():
        try:
            call()
        except ClientError:
            pass  # an AWS error is an answer too
        done.set()

    with MOTO_LOCK:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        finished = done.wait(seconds)
    assert done.wait(30), "the request never finished after the lock was released"
    worker.join()
    return finished


def test_each_request_is_atomic_as_on_aws(info):
    """moto's backends are dicts its handlers iterate; two requests at once failed in CI with "dictionary changed size
    during iteration" (Secrets Manager's store, EC2's tag table), a 500 AWS never gives. Every request but the Data
    API's waits for the one in flight: while the lock is held, none of Secrets Manager, IAM, KMS or EC2 answers."""
    for call in (lambda: client(PROVIDER_PROFILE, "secretsmanager").list_secrets(),
                 lambda: client(PROVIDER_PROFILE, "iam").list_roles(),
                 lambda: client(PROVIDER_PROFILE, "kms").list_aliases(),
                 lambda: client(CONSUMER_PROFILE, "ec2").describe_vpc_endpoints()):
        assert not _finishes_while_the_lock_is_held(call, 0.5)

