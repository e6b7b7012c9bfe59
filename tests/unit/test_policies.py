"""Pure tests of xacct_dataapi/policies.py: every builder as exact JSON, invariants, and normalisation."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.helpers.accounts import CONSUMER, PROVIDER, REGION
from xacct_dataapi import policies

CLUSTER_ARN = f"arn:aws:rds:{REGION}:{PROVIDER}:cluster:orders-aurora"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{PROVIDER}:secret:xacct-orders/db-credentials-AbC123"
KEY_ARN = f"arn:aws:kms:{REGION}:{PROVIDER}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ACCESS_ROLE_ARN = f"arn:aws:iam::{PROVIDER}:role/xacct-orders-data-api-access"
CONSUMER_USER_ARN = f"arn:aws:iam::{CONSUMER}:user/xacct-orders-data-api-client"
EXTERNAL_ID = "xacct-0123456789abcdef0123456789abcdef"

DATA_API = [
    "rds-data:BatchExecuteStatement",
    "rds-data:BeginTransaction",
    "rds-data:CommitTransaction",
    "rds-data:ExecuteStatement",
    "rds-data:RollbackTransaction",
]

# Trust policies are limited to 2048 characters by default, inline role policies to 10240, key policies to 32768.
TRUST_LIMIT, INLINE_LIMIT, KEY_POLICY_LIMIT = 2048, 10240, 32768


def all_documents(principal=CONSUMER_USER_ARN, access_role=ACCESS_ROLE_ARN, cluster=CLUSTER_ARN, secret=SECRET_ARN,
                  key=KEY_ARN) -> dict[str, dict]:
    return {
        "key_policy": policies.key_policy(PROVIDER, access_role, REGION),
        "secret_resource_policy": policies.secret_resource_policy(access_role, secret),
        "access_role_trust_policy": policies.access_role_trust_policy(CONSUMER, principal, EXTERNAL_ID),
        "access_role_permissions": policies.access_role_permissions(cluster, secret, key, REGION),
        "consumer_assume_policy": policies.consumer_assume_policy(access_role),
        "endpoint_policy": policies.endpoint_policy(access_role, cluster),
    }


def walk(value):
    """Every (key, value) pair in a nested document."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


# --- exact documents ------------------------------------------------------------------------------

def test_key_policy_exact():
    assert policies.key_policy(PROVIDER, ACCESS_ROLE_ARN, REGION) == {
        "Version": "2012-10-17",
        "Id": "xacct-key-policy",
        "Statement": [
            {
                "Sid": "EnableProviderAccountIamPolicies",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowAccessRoleDecryptViaSecretsManager",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": "secretsmanager.us-west-2.amazonaws.com",
                        "kms:CallerAccount": "222222222222",
                    },
                    "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/xacct-orders-data-api-access"},
                },
            },
        ],
    }


def test_key_policy_grants_nothing_to_the_consumer_account():
    """The consumer acts only through the access role (the Data API refuses other accounts' callers)."""
    assert CONSUMER not in json.dumps(policies.key_policy(PROVIDER, ACCESS_ROLE_ARN, REGION))


def test_secret_resource_policy_exact():
    assert policies.secret_resource_policy(ACCESS_ROLE_ARN, SECRET_ARN) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowAccessRoleReadCurrentVersion",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::222222222222:role/xacct-orders-data-api-access"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "arn:aws:secretsmanager:us-west-2:222222222222:secret:xacct-orders/db-credentials-AbC123",
                "Condition": {
                    "StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"},
                    "Null": {"secretsmanager:VersionId": "true"},
                },
            },
            {
                "Sid": "DenyReadToAnyoneElse",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "arn:aws:secretsmanager:us-west-2:222222222222:secret:xacct-orders/db-credentials-AbC123",
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/xacct-orders-data-api-access"}},
            },
        ],
    }


def test_access_role_trust_policy_exact():
    assert policies.access_role_trust_policy(CONSUMER, CONSUMER_USER_ARN, EXTERNAL_ID) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TrustConsumerPrincipal",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"sts:ExternalId": "xacct-0123456789abcdef0123456789abcdef"},
                    "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:user/xacct-orders-data-api-client"},
                },
            }
        ],
    }


def test_access_role_permissions_exact():
    assert policies.access_role_permissions(CLUSTER_ARN, SECRET_ARN, KEY_ARN, REGION) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RunDataApiStatements",
                "Effect": "Allow",
                "Action": [
                    "rds-data:BatchExecuteStatement",
                    "rds-data:BeginTransaction",
                    "rds-data:CommitTransaction",
                    "rds-data:ExecuteStatement",
                    "rds-data:RollbackTransaction",
                ],
                "Resource": "arn:aws:rds:us-west-2:222222222222:cluster:orders-aurora",
            },
            {
                "Sid": "ReadDbCredentials",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "arn:aws:secretsmanager:us-west-2:222222222222:secret:xacct-orders/db-credentials-AbC123",
                "Condition": {
                    "StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"},
                    "Null": {"secretsmanager:VersionId": "true"},
                },
            },
            {
                "Sid": "DecryptDbCredentials",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": "arn:aws:kms:us-west-2:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-west-2.amazonaws.com"}},
            },
        ],
    }


def test_consumer_assume_policy_exact():
    assert policies.consumer_assume_policy(ACCESS_ROLE_ARN) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeXacctDataApiAccessRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": "arn:aws:iam::222222222222:role/xacct-orders-data-api-access",
            }
        ],
    }


def test_endpoint_policy_exact():
    assert policies.endpoint_policy(ACCESS_ROLE_ARN, CLUSTER_ARN) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyAccessRoleToCluster",
                "Effect": "Allow",
                "Principal": "*",
                "Action": [
                    "rds-data:BatchExecuteStatement",
                    "rds-data:BeginTransaction",
                    "rds-data:CommitTransaction",
                    "rds-data:ExecuteStatement",
                    "rds-data:RollbackTransaction",
                ],
                "Resource": "arn:aws:rds:us-west-2:222222222222:cluster:orders-aurora",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/xacct-orders-data-api-access"}},
            }
        ],
    }


def test_arn_helpers_exact():
    assert policies.account_root(CONSUMER) == "arn:aws:iam::111111111111:root"
    assert policies.role_arn(PROVIDER, "r") == "arn:aws:iam::222222222222:role/r"
    assert policies.user_arn(CONSUMER, "u") == "arn:aws:iam::111111111111:user/u"
    assert policies.partition_of("arn:aws-cn:rds:cn-north-1:222222222222:cluster:c") == "aws-cn"
    assert policies.partition_of("not-an-arn") == "aws"
    assert policies.account_root(CONSUMER, "aws-us-gov") == "arn:aws-us-gov:iam::111111111111:root"


def test_partition_flows_into_principals():
    doc = policies.key_policy(PROVIDER, "arn:aws-cn:iam::222222222222:role/r", "cn-north-1", "aws-cn")
    assert doc["Statement"][0]["Principal"] == {"AWS": "arn:aws-cn:iam::222222222222:root"}
    assert doc["Statement"][1]["Principal"] == {"AWS": "arn:aws-cn:iam::222222222222:root"}
    trust = policies.access_role_trust_policy(CONSUMER, "arn:aws-cn:iam::111111111111:user/u", EXTERNAL_ID, "aws-cn")
    assert trust["Statement"][0]["Principal"] == {"AWS": "arn:aws-cn:iam::111111111111:root"}


# --- invariants -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["access_role_permissions", "consumer_assume_policy"])
def test_identity_policies_never_use_resource_star(name):
    doc = all_documents()[name]
    resources = [v for k, v in walk(doc) if k in ("Resource", "NotResource")]
    assert resources, "an identity policy statement must name its resource"
    for r in resources:
        assert r != "*" and r != ["*"] and "*" not in (r if isinstance(r, list) else [r])
    assert '"*"' not in json.dumps(doc)


def test_only_the_key_policy_uses_resource_star():
    for name, doc in all_documents().items():
        stars = [s["Sid"] for s in doc["Statement"] if s.get("Resource") == "*"]
        if name == "key_policy":
            assert stars == ["EnableProviderAccountIamPolicies", "AllowAccessRoleDecryptViaSecretsManager"]
        else:
            assert stars == [], name


@pytest.mark.parametrize("name", list(all_documents()))
def test_every_statement_has_a_unique_sid(name):
    statements = all_documents()[name]["Statement"]
    sids = [s.get("Sid") for s in statements]
    assert all(isinstance(s, str) and s.isalnum() for s in sids), sids  # IAM: Sid is [A-Za-z0-9]
    assert len(set(sids)) == len(sids)


@pytest.mark.parametrize("name", list(all_documents()))
def test_actions_are_sorted(name):
    for s in all_documents()[name]["Statement"]:
        action = s["Action"]
        if isinstance(action, list):
            assert action == sorted(action), (name, s["Sid"])
            assert len(set(action)) == len(action)


def test_data_api_actions_constant():
    assert list(policies.DATA_API_ACTIONS) == DATA_API


def test_secret_conditions_pin_awscurrent():
    docs = all_documents()
    for doc, sid in ((docs["secret_resource_policy"], "AllowAccessRoleReadCurrentVersion"),
                     (docs["access_role_permissions"], "ReadDbCredentials")):
        (stmt,) = [s for s in doc["Statement"] if s["Sid"] == sid]
        # The Data API names no stage: a plain StringEquals would deny it. IfExists + Null(VersionId) admits the
        # default (current) version and an explicit AWSCURRENT, and nothing else.
        assert stmt["Condition"] == {"StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"},
                                     "Null": {"secretsmanager:VersionId": "true"}}


def test_secret_policy_denies_everyone_but_the_access_role():
    doc = policies.secret_resource_policy(ACCESS_ROLE_ARN, SECRET_ARN)
    (deny,) = [s for s in doc["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": ACCESS_ROLE_ARN}}
    assert deny["Action"] == "secretsmanager:GetSecretValue"


def test_key_policy_access_role_statement_is_via_secrets_manager_only():
    for region in ("us-west-2", "eu-central-1"):
        doc = policies.key_policy(PROVIDER, ACCESS_ROLE_ARN, region)
        (role,) = [s for s in doc["Statement"] if s["Sid"] == "AllowAccessRoleDecryptViaSecretsManager"]
        assert role["Condition"]["StringEquals"]["kms:ViaService"] == f"secretsmanager.{region}.amazonaws.com"
        assert role["Condition"]["StringEquals"]["kms:CallerAccount"] == PROVIDER
        assert role["Condition"]["ArnEquals"] == {"aws:PrincipalArn": ACCESS_ROLE_ARN}
        assert role["Action"] == "kms:Decrypt"


def test_secret_readers_are_exempt_from_the_deny_only():
    reader = f"arn:aws:iam::{PROVIDER}:role/rotation-lambda"
    doc = policies.secret_resource_policy(ACCESS_ROLE_ARN, SECRET_ARN, (reader,))
    (deny,) = [s for s in doc["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [ACCESS_ROLE_ARN, reader]}}
    (allow,) = [s for s in doc["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"AWS": ACCESS_ROLE_ARN}  # readers need their own identity policy


def test_private_path_conditions_only_the_data_api_statement():
    doc = policies.access_role_permissions(CLUSTER_ARN, SECRET_ARN, KEY_ARN, REGION, "vpce-0abc")
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["RunDataApiStatements"]["Condition"] == {"StringEquals": {"aws:SourceVpce": "vpce-0abc"}}
    assert "SourceVpce" not in json.dumps([by_sid["ReadDbCredentials"], by_sid["DecryptDbCredentials"]])


def test_access_role_kms_statement_is_via_secrets_manager_only():
    doc = policies.access_role_permissions(CLUSTER_ARN, SECRET_ARN, KEY_ARN, "eu-central-1")
    (stmt,) = [s for s in doc["Statement"] if s["Sid"] == "DecryptDbCredentials"]
    assert stmt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.eu-central-1.amazonaws.com"}}


def test_documents_fit_aws_size_limits_even_with_long_names():
    # A long deployment name (32 chars), an adopted role with a deep path, long cluster and secret names.
    name = "a" * 32
    principal = f"arn:aws:iam::{CONSUMER}:role/{'p' * 60}/{'q' * 60}/{'r' * 64}"
    access_role = f"arn:aws:iam::{PROVIDER}:role/xacct-{name}-data-api-access"
    cluster = f"arn:aws:rds:{REGION}:{PROVIDER}:cluster:{'c' * 63}"
    secret = f"arn:aws:secretsmanager:{REGION}:{PROVIDER}:secret:xacct-{name}/db-credentials-AbC123"
    for docs in (all_documents(), all_documents(principal, access_role, cluster, secret)):
        assert len(json.dumps(docs["access_role_trust_policy"])) < TRUST_LIMIT
        assert len(json.dumps(docs["access_role_permissions"])) < INLINE_LIMIT
        assert len(json.dumps(docs["consumer_assume_policy"])) < INLINE_LIMIT  # user/role inline policy
        assert len(json.dumps(docs["key_policy"])) < KEY_POLICY_LIMIT
        assert len(json.dumps(docs["secret_resource_policy"])) < 20480  # Secrets Manager resource policy
        assert len(json.dumps(docs["endpoint_policy"])) < 20480  # VPC endpoint policy


# --- normalisation / drift ------------------------------------------------------------------------

def perms() -> dict:
    return policies.access_role_permissions(CLUSTER_ARN, SECRET_ARN, KEY_ARN, REGION)


def test_equal_ignores_statement_order():
    a = perms()
    b = perms()
    b["Statement"].reverse()
    assert policies.equal(a, b)
    assert policies.differing_statements(b, a) == []


def test_equal_ignores_action_order():
    b = perms()
    b["Statement"][0]["Action"] = list(reversed(b["Statement"][0]["Action"]))
    assert policies.equal(perms(), b)


def test_single_item_list_equals_scalar():
    b = policies.consumer_assume_policy(ACCESS_ROLE_ARN)
    b["Statement"][0]["Action"] = ["sts:AssumeRole"]
    b["Statement"][0]["Resource"] = [ACCESS_ROLE_ARN]
    assert policies.equal(policies.consumer_assume_policy(ACCESS_ROLE_ARN), b)
    assert policies.equal({"Version": "2012-10-17", "Statement": [{"Action": ["a"]}]},
                          {"Version": "2012-10-17", "Statement": [{"Action": "a"}]})


def test_single_statement_object_equals_list():
    doc = policies.consumer_assume_policy(ACCESS_ROLE_ARN)
    as_object = {"Version": doc["Version"], "Statement": doc["Statement"][0]}
    assert policies.equal(as_object, doc)


def test_changed_resource_is_reported_by_sid():
    actual = perms()
    actual["Statement"][0]["Resource"] = f"arn:aws:rds:{REGION}:{PROVIDER}:cluster:other"
    assert not policies.equal(actual, perms())
    assert policies.differing_statements(actual, perms()) == ["RunDataApiStatements: differs"]


def test_missing_and_unexpected_statements_are_named():
    actual = perms()
    del actual["Statement"][1]  # ReadDbCredentials gone
    actual["Statement"].append({"Sid": "Extra", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    assert policies.differing_statements(actual, perms()) == ["Extra: unexpected statement", "ReadDbCredentials: missing"]


def test_changed_condition_is_a_difference():
    actual = policies.secret_resource_policy(ACCESS_ROLE_ARN, SECRET_ARN)
    actual["Statement"][0]["Condition"]["StringEqualsIfExists"]["secretsmanager:VersionStage"] = "AWSPREVIOUS"
    desired = policies.secret_resource_policy(ACCESS_ROLE_ARN, SECRET_ARN)
    assert not policies.equal(actual, desired)
    assert policies.differing_statements(actual, desired) == ["AllowAccessRoleReadCurrentVersion: differs"]


def test_only_version_differs():
    actual = perms()
    actual["Version"] = "2008-10-17"
    assert not policies.equal(actual, perms())
    assert policies.differing_statements(actual, perms()) == ["Version differs"]


def test_json_string_and_url_encoded_string_parse_equal():
    doc = policies.access_role_trust_policy(CONSUMER, CONSUMER_USER_ARN, EXTERNAL_ID)
    assert policies.equal(json.dumps(doc), doc)
    assert policies.equal(json.dumps(doc, indent=2), doc)
    encoded = quote(json.dumps(doc), safe="")  # IAM returns policy documents URL-encoded
    assert encoded.startswith("%7B")
    assert policies.parse(encoded) == doc
    assert policies.equal(encoded, doc)
    assert policies.equal(doc, encoded)
    assert policies.differing_statements(encoded, doc) == []


@pytest.mark.parametrize("bad", ["{not json", quote("{not json", safe=""), "", "[]", "null"])
def test_invalid_json_is_never_equal(bad):
    doc = perms()
    assert policies.equal(bad, doc) is False
    assert policies.differing_statements(bad, doc)  # never "no difference"


def test_invalid_json_is_reported_as_such():
    assert policies.differing_statements("{not json", perms()) == ["(document is not valid JSON)"]


# --- optional: parliament (IAM policy linter) -------------------------------------------------------

REAL_LOOKING = {
    "cluster": f"arn:aws:rds:{REGION}:{PROVIDER}:cluster:orders-aurora",
    "secret": f"arn:aws:secretsmanager:{REGION}:{PROVIDER}:secret:xacct-orders/db-credentials-Qw3rTy",
    "key": f"arn:aws:kms:{REGION}:{PROVIDER}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    "role": f"arn:aws:iam::{PROVIDER}:role/xacct-orders-data-api-access",
}


def _findings(doc: dict) -> list:
    parliament = pytest.importorskip("parliament")
    return [(f.issue, f.detail) for f in parliament.analyze_policy_string(json.dumps(doc)).findings]


def test_parliament_finds_nothing_in_identity_policies():
    r = REAL_LOOKING
    assert _findings(policies.access_role_permissions(r["cluster"], r["secret"], r["key"], REGION)) == []
    assert _findings(policies.consumer_assume_policy(r["role"])) == []


def test_parliament_is_not_vacuous():
    """A typo in an action and Resource '*' are findings, so the empty results above mean something."""
    r = REAL_LOOKING
    doc = policies.access_role_permissions(r["cluster"], r["secret"], r["key"], REGION)
    doc["Statement"][0]["Action"] = ["rds-data:ExecuteStatment"]
    assert [i for i, _ in _findings(doc)] == ["UNKNOWN_ACTION"]
    doc = policies.consumer_assume_policy("*")
    assert [i for i, _ in _findings(doc)] == ["RESOURCE_STAR"]
