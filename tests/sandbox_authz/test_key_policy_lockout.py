"""KMS's policy lockout safety check, as the sandbox enforces it: PutKeyPolicy without
BypassPolicyLockoutSafetyCheck is refused (MalformedPolicyDocumentException) when the new policy would not let the
caller call PutKeyPolicy again; xacct's key policy passes it through the account statement (IAM policies decide).
Was: not enforced, so a key policy that locks the operator out (setup's PutKeyPolicy, which passes no bypass flag,
would fail on AWS) passed in the sandbox. In-process, as least-privilege operators."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from tests.helpers.accounts import PROVIDER, STATE
# xacct runs as least-privilege operators, authorised as AWS would in-process
from tests.helpers.operators import world_of_operators  # noqa: F401 (the `world` fixture)
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")


def test_a_key_policy_that_locks_the_operator_out_is_refused(world, password):
    assert CliRunner().invoke(cli, world.setup_args("--enable-data-api", "--yes")).exit_code == 0
    key = json.loads(open(STATE).read())["values"]["key_arn"]
    operator = boto3.Session(profile_name="provider").client("kms")
    doc = json.loads(operator.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    assert "EnableProviderAccountIamPolicies" in [s["Sid"] for s in doc["Statement"]]
    operator.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(doc))  # xacct's own: passes

    locked = {**doc, "Statement": [s for s in doc["Statement"] if s["Sid"] != "EnableProviderAccountIamPolicies"]}
    with pytest.raises(ClientError) as err:
        operator.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(locked))
    assert err.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    assert json.loads(world.provider.client("kms").get_key_policy(KeyId=key, PolicyName="default")["Policy"]) == doc

    operator.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(locked),
                            BypassPolicyLockoutSafetyCheck=True)  # AWS's way out, judged on the current policy
    with pytest.raises(ClientError) as err:  # and now the operator is locked out indeed
        operator.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(doc),
                                BypassPolicyLockoutSafetyCheck=True)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f":{PROVIDER}:key/" in key
