"""The sandbox's realism layer (xacct_dataapi/sandbox/realism.py): what AWS does while it settles, which moto does at
once. Each behaviour is checked while it holds, then once its (short) duration has passed. No timing is asserted:
the test only waits past the configured durations."""
from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("moto.server")

from botocore.exceptions import ClientError  # noqa: E402

from tests.test_sandbox import client, use_profiles  # noqa: E402
from xacct_dataapi.sandbox import CONSUMER_PROFILE, PROVIDER_PROFILE, Sandbox  # noqa: E402
from xacct_dataapi.sandbox.realism import Realism  # noqa: E402

pytestmark = pytest.mark.server

SETTLE = 3.0  # long enough that each check below runs well inside it


def code(exc_info) -> str:
    return exc_info.value.response["Error"]["Code"]


def trust(principal: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})


def resource_policy(principal: str, action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": "*"}]})


def test_aws_settling_times(tmp_path, monkeypatch):
    realism = Realism(endpoint_pending_s=SETTLE, principal_delay_s=SETTLE, eni_linger_s=SETTLE,
                      secret_name_block_s=SETTLE, data_api_switch_s=SETTLE)
    with Sandbox(tmp_path, realism=realism) as sb:
        info = sb.info
        use_profiles(monkeypatch, info)
        assert json.loads((tmp_path / "sandbox.json").read_text())["realism"]["eni_linger_s"] == SETTLE
        iam, kms, sm = client(PROVIDER_PROFILE, "iam"), client(PROVIDER_PROFILE, "kms"), client(PROVIDER_PROFILE, "secretsmanager")
        rds, sts, ec2 = client(PROVIDER_PROFILE, "rds"), client(CONSUMER_PROFILE, "sts"), client(CONSUMER_PROFILE, "ec2")
        started = time.monotonic()

        # A new role (and a new user of the other account) is not yet a valid principal, nor assumable.
        role_arn = iam.create_role(RoleName="young", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{info.consumer_account}:root"))["Role"]["Arn"]
        user_arn = client(CONSUMER_PROFILE, "iam").create_user(UserName="young-user")["User"]["Arn"]
        for principal in (role_arn, user_arn):
            with pytest.raises(ClientError) as e:
                iam.create_role(RoleName="names-young", AssumeRolePolicyDocument=trust(principal))
            assert code(e) == "MalformedPolicyDocument" and "Invalid principal" in str(e.value)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        with pytest.raises(ClientError) as e:
            kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=resource_policy(role_arn, "kms:*"),
                               BypassPolicyLockoutSafetyCheck=True)  # the policy names the role only
        assert code(e) == "MalformedPolicyDocumentException"
        sm.create_secret(Name="s", SecretString="x")
        with pytest.raises(ClientError) as e:
            sm.put_resource_policy(SecretId="s", ResourcePolicy=resource_policy(role_arn, "secretsmanager:*"))
        assert code(e) == "MalformedPolicyDocumentException" and "unsupported principal" in str(e.value)
        with pytest.raises(ClientError) as e:
            sts.assume_role(RoleArn=role_arn, RoleSessionName="first")
        assert code(e) == "AccessDenied"

        # A force-deleted secret's name is blocked for a while.
        sm.delete_secret(SecretId="s", ForceDeleteWithoutRecovery=True)
        with pytest.raises(ClientError) as e:
            sm.create_secret(Name="s", SecretString="x")
        assert code(e) == "InvalidRequestException" and "scheduled for deletion" in str(e.value)

        # The Data API switch shows up later.
        assert rds.enable_http_endpoint(ResourceArn=info.cluster_arn)["HttpEndpointEnabled"] is True
        assert rds.describe_db_clusters()["DBClusters"][0]["HttpEndpointEnabled"] is False

        # A new endpoint is pending; its interfaces hold the group, during and after the endpoint's life.
        sg = ec2.create_security_group(GroupName="g", Description="g", VpcId=info.vpc_id)["GroupId"]
        ep = ec2.create_vpc_endpoint(VpcId=info.vpc_id, VpcEndpointType="Interface", SubnetIds=list(info.subnet_ids),
                                     ServiceName=f"com.amazonaws.{info.region}.rds-data", SecurityGroupIds=[sg])["VpcEndpoint"]
        assert ep["State"].lower() == "pending"
        with pytest.raises(ClientError) as e:
            ec2.delete_security_group(GroupId=sg)
        assert code(e) == "DependencyViolation"
        ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])
        deleted_at = time.monotonic()
        holding = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [sg]}])["NetworkInterfaces"]
        assert len(holding) == len(info.subnet_ids)
        with pytest.raises(ClientError) as e:
            ec2.delete_security_group(GroupId=sg)
        assert code(e) == "DependencyViolation"
        assert time.monotonic() - started < SETTLE, "the checks above took longer than the settling time (overloaded?)"

        # Every settling clock above started at or before the endpoint's deletion: wait until all have run out
        # (measured from `started`, a clock started later, such as the secret's, could still be running under load).
        time.sleep(max(0.0, deleted_at + SETTLE + 0.2 - time.monotonic()))
        iam.create_role(RoleName="names-settled", AssumeRolePolicyDocument=trust(role_arn))
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=resource_policy(role_arn, "kms:*"),
                           BypassPolicyLockoutSafetyCheck=True)
        assert sts.assume_role(RoleArn=role_arn, RoleSessionName="later")["Credentials"]
        sm.create_secret(Name="s", SecretString="x")
        assert rds.describe_db_clusters()["DBClusters"][0]["HttpEndpointEnabled"] is True
        time.sleep(max(0.0, deleted_at + SETTLE + 0.2 - time.monotonic()))  # the interfaces linger from the deletion
        assert ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [sg]}])["NetworkInterfaces"] == []
        ec2.delete_security_group(GroupId=sg)


def test_endpoint_becomes_available(tmp_path, monkeypatch):
    with Sandbox(tmp_path, realism=Realism(endpoint_pending_s=0.2, latency_ms=1)) as sb:
        use_profiles(monkeypatch, sb.info)
        ec2 = client(CONSUMER_PROFILE, "ec2")
        ep = ec2.create_vpc_endpoint(VpcId=sb.info.vpc_id, VpcEndpointType="Interface", SubnetIds=list(sb.info.subnet_ids),
                                     ServiceName=f"com.amazonaws.{sb.info.region}.rds-data")["VpcEndpoint"]
        time.sleep(0.3)
        (now,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["VpcEndpoints"]
        assert now["State"].lower() == "available"


def test_realistic_defaults_scale():
    r = Realism.realistic(latency_ms=100, scale=0.1)
    assert r.latency_ms == 100 and r.endpoint_pending_s == pytest.approx(2.0) and r.active
    assert not Realism().active
