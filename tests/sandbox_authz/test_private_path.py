"""Requests from inside the consumer VPC versus from outside (authz/private.py): with --require-private-path the
application's statement from outside is denied and the same from inside the VPC works; inside, the endpoint's security
group and policy decide too."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_connect import home, run, sb, setup, teardown  # noqa: F401 (fixtures)
from tests.sandbox_authz.test_sandbox_enforces import app_statement

pytestmark = pytest.mark.server


def _code(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_require_private_path_denies_outside_and_works_inside(sb, home, monkeypatch):
    state = setup(sb, home, "priv", "--require-private-path")
    values = state["values"]
    code, message = _code(lambda: app_statement(sb, home, monkeypatch, values))
    assert code == "AccessDeniedException" and "rds-data:ExecuteStatement" in message
    # verify from outside fails, and says why, at once (the sandbox knows this shell is outside: no propagation wait,
    # though the deployment was just set up); from inside (the environment `sandbox up` prints) it passes.
    res = run(sb, home, "verify", "--name", "priv", code=1)
    assert "--require-private-path" in res.stderr and "AccessDenied" in res.stderr and "Timed out" not in res.stderr
    inside = sb.inside_vpc_env()
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", inside["AWS_ENDPOINT_URL_RDS_DATA"])
    app_statement(sb, home, monkeypatch, values)
    assert "OK" in run(sb, home, "verify", "--name", "priv", "--wait-timeout", "2", env=inside).stdout
    # doctor simulates the rds-data call with aws:SourceVpce set (the only way it is allowed), so the check passes.
    checks = json.loads(run(sb, home, "doctor", "--name", "priv", "--output", "json", code=None).stdout)["checks"]
    simulate = next(c for c in checks if c["id"] == "iam.simulate")
    assert simulate["status"] == "ok" and "rds-data:ExecuteStatement" in simulate["evidence"], simulate
    connect = run(sb, home, "connect", "--name", "priv").stdout
    assert "only from inside" in connect and values["endpoint_id"] in connect

    ec2 = boto3.Session(profile_name=sb.consumer_profile).client("ec2")
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[values["endpoint_id"]])["VpcEndpoints"][0]
    # The endpoint policy decides what passes through it: without a statement for the role, AccessDenied.
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "rds-data:*",
                                                 "Resource": "arn:aws:rds:us-west-2:222222222222:cluster:other"}]}))
    code, message = _code(lambda: app_statement(sb, home, monkeypatch, values))
    assert code == "AccessDeniedException" and "VPC endpoint policy" in message
    # Its security group must let the client reach 443.
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], ResetPolicy=True)
    group = endpoint["Groups"][0]["GroupId"]
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=rules)
    code, message = _code(lambda: app_statement(sb, home, monkeypatch, values))
    assert code == "ConnectTimeout" and "443" in message and group not in message
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=rules)
    monkeypatch.delenv("AWS_ENDPOINT_URL_RDS_DATA")
    teardown(sb, home, "priv")


def test_inside_the_vpc_the_endpoint_admits_only_the_access_role(sb, home, monkeypatch):
    state = setup(sb, home, "inside")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", sb.inside_vpc_env()["AWS_ENDPOINT_URL_RDS_DATA"])
    app_statement(sb, home, monkeypatch, state["values"])  # the access role, through the endpoint
    rdsdata = boto3.Session(profile_name=sb.provider_profile).client("rds-data")
    code, message = _code(lambda: rdsdata.execute_statement(resourceArn=sb.cluster_arn, sql="select 1",
                                                            secretArn=state["values"]["secret_arn"]))
    assert code == "AccessDeniedException" and "VPC endpoint policy" in message  # the provider admin is not the role
    monkeypatch.delenv("AWS_ENDPOINT_URL_RDS_DATA")
    teardown(sb, home, "inside")
