"""Every policy document xacct writes, built by pure functions (normalisation for drift checks: policy_diff.py).

Why each one looks the way it does (see docs/how-it-works.md):
- The Data API refuses callers from another account, so the consumer always acts as the provider's
  access role. The key grant and the secret policy are defence in depth on top of that.
- Trust names the consumer account and narrows it with aws:PrincipalArn instead of naming the consumer
  principal: IAM rewrites a principal ARN to its unique id when saved, so a recreated consumer role
  would silently stop matching, and naming it would force it to exist first.
- "AWSCURRENT only" is written as StringEqualsIfExists on secretsmanager:VersionStage plus Null on
  secretsmanager:VersionId: the Data API reads the secret WITHOUT naming a stage (the key is then absent,
  and a plain StringEquals would deny every statement), so the condition allows the default version
  and a request for AWSCURRENT, and refuses any other stage or an explicit version id.
- Identity policies never use "Resource": "*". In a KMS key policy "*" means "this key" (the only
  form AWS documents); that is the one place it appears.
"""
from __future__ import annotations

from typing import Any

from xacct_dataapi import policy_diff

# Normalisation and drift are policy_diff's; named here too, where every reader of a document looks for them.
parse, normalize, equal = policy_diff.parse, policy_diff.normalize, policy_diff.equal
differing_statements, statement_drift = policy_diff.differing_statements, policy_diff.statement_drift

VERSION = "2012-10-17"

DATA_API_ACTIONS = (
    "rds-data:BatchExecuteStatement",
    "rds-data:BeginTransaction",
    "rds-data:CommitTransaction",
    "rds-data:ExecuteStatement",
    "rds-data:RollbackTransaction",
)


def partition_of(arn: str) -> str:
    return arn.split(":")[1] if arn.startswith("arn:") else "aws"


def account_root(account_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:root"


def role_arn(account_id: str, name: str, partition: str = "aws", path: str = "/") -> str:
    """A role's ARN includes its IAM path: arn:aws:iam::ACCOUNT:role/PATH/NAME (IAM identifiers,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns). So does
    aws:PrincipalArn, the key the key, secret and endpoint policies name the access role by: for a role it is the
    role's ARN with its path (AWS global condition context keys, aws:PrincipalArn,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn;
    the IAM Identity Center roles under /aws-reserved/sso.amazonaws.com/ are the well-known case), and a condition
    written without the path would never match."""
    if not (path.startswith("/") and path.endswith("/")):
        raise ValueError(f"an IAM path begins and ends with '/': {path!r}")
    return f"arn:{partition}:iam::{account_id}:role{path}{name}"


def user_arn(account_id: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:user/{name}"


def key_policy(provider_account: str, access_role_arn: Any, region: str, partition: str = "aws") -> dict:
    """Step 2: keep the key manageable by the provider account; let the access role decrypt via Secrets Manager only.

    The consumer never uses the key itself: the Data API refuses callers from another account, so the consumer
    acts as the access role, and the Data API reads the secret (and Secrets Manager decrypts it) as that role.
    The role is named like the trust policy names the consumer: the account as principal, narrowed by
    aws:PrincipalArn, so the policy can be written before the role exists and survives its re-creation."""
    return {
        "Version": VERSION,
        "Id": "xacct-key-policy",
        "Statement": [
            {
                "Sid": "EnableProviderAccountIamPolicies",
                "Effect": "Allow",
                "Principal": {"AWS": account_root(provider_account, partition)},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowAccessRoleDecryptViaSecretsManager",
                "Effect": "Allow",
                "Principal": {"AWS": account_root(provider_account, partition)},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{region}.amazonaws.com",
                        "kms:CallerAccount": provider_account,
                    },
                    "ArnEquals": {"aws:PrincipalArn": access_role_arn},
                },
            },
        ],
    }


def current_version_only() -> dict:
    """Condition: the current version only (see the module docstring for why IfExists + Null)."""
    return {
        "StringEqualsIfExists": {"secretsmanager:VersionStage": "AWSCURRENT"},
        "Null": {"secretsmanager:VersionId": "true"},
    }


def secret_resource_policy(access_role_arn: Any, secret_arn: Any, readers: tuple[str, ...] = ()) -> dict:
    """Step 4: only the access role may read the secret, and only its current version.

    The Allow alone would not keep other provider principals out (same-account identity policies
    suffice for them), hence the Deny for everyone else. The Deny also blocks the provider's administrators,
    a rotation Lambda and the RDS query editor; `readers` (--secret-reader) are exempt from it (their own
    identity policies must still allow GetSecretValue).
    """
    exempt = [access_role_arn, *sorted(set(readers))] if readers else access_role_arn
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AllowAccessRoleReadCurrentVersion",
                "Effect": "Allow",
                "Principal": {"AWS": access_role_arn},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret_arn,
                "Condition": current_version_only(),
            },
            {
                "Sid": "DenyReadToAnyoneElse",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret_arn,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": exempt}},
            },
        ],
    }


def access_role_trust_policy(consumer_account: str, consumer_principal_arn: Any, external_id: Any,
                             partition: str = "aws") -> dict:
    """Step 5 (trust): the consumer account, narrowed to the one consumer principal, with an external id."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "TrustConsumerPrincipal",
                "Effect": "Allow",
                "Principal": {"AWS": account_root(consumer_account, partition)},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"sts:ExternalId": external_id},
                    "ArnEquals": {"aws:PrincipalArn": consumer_principal_arn},
                },
            }
        ],
    }


def access_role_permissions(cluster_arn: Any, secret_arn: Any, key_arn: Any, region: str,
                            source_vpce: Any = None) -> dict:
    """Step 5 (permissions): Data API statements on the one cluster, its secret, and the key behind it.

    With `source_vpce` (--require-private-path) the rds-data statement holds only for requests through that
    endpoint. Only that statement: the Data API reads the secret and Secrets Manager uses the key on the
    caller's behalf, from AWS's side, where a VPC-endpoint condition would never match."""
    data_api: dict = {"Sid": "RunDataApiStatements", "Effect": "Allow", "Action": list(DATA_API_ACTIONS),
                      "Resource": cluster_arn}
    if source_vpce is not None:
        data_api["Condition"] = {"StringEquals": {"aws:SourceVpce": source_vpce}}
    return {
        "Version": VERSION,
        "Statement": [
            data_api,
            {
                "Sid": "ReadDbCredentials",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret_arn,
                "Condition": current_version_only(),
            },
            {
                "Sid": "DecryptDbCredentials",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            },
        ],
    }


def consumer_assume_policy(access_role_arn: Any) -> dict:
    """Step 6: the consumer principal may assume the access role, and nothing else."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AssumeXacctDataApiAccessRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": access_role_arn,
            }
        ],
    }


def endpoint_policy(access_role_arn: Any, cluster_arn: Any) -> dict:
    """Step 7: the endpoint carries only the access role's Data API calls to the one cluster."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "OnlyAccessRoleToCluster",
                "Effect": "Allow",
                "Principal": "*",
                "Action": list(DATA_API_ACTIONS),
                "Resource": cluster_arn,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": access_role_arn}},
            }
        ],
    }


def endpoint_policy_for_clusters(grants: list[tuple[Any, Any]]) -> dict:
    """Step 7 for the endpoint every deployment in a VPC shares: one statement per cluster in use, admitting the
    principals whose aws:PrincipalArn matches its pattern (xacct's access roles on that cluster, which all sit under
    one IAM path) and only on that cluster. Its size grows with the clusters, not with the deployments."""
    return {"Version": VERSION, "Statement": [
        {"Sid": f"XacctAccessRolesToCluster{i}", "Effect": "Allow", "Principal": "*", "Action": list(DATA_API_ACTIONS),
         "Resource": cluster, "Condition": {"ArnLike": {"aws:PrincipalArn": roles}}}
        for i, (roles, cluster) in enumerate(sorted(grants, key=lambda g: (str(g[1]), str(g[0]))), 1)]}


def _many(values: list) -> Any:
    """One value as a scalar (as the single-consumer builders write it), several as a list."""
    return values[0] if len(values) == 1 else list(values)


def access_role_trust_policy_for_consumers(consumer_accounts: list[str], consumer_principal_arns: list, external_id: Any,
                                           partition: str = "aws", org_id: str | None = None,
                                           principal_pattern: str | None = None) -> dict:
    """Step 5 (trust) for many consumer accounts (`xacct export --consumers-from`).

    accounts form: each account, narrowed to its consumer principal; one account gives exactly
    access_role_trust_policy. org form: any principal of the organization (aws:PrincipalOrgID) whose ARN
    matches `principal_pattern` (the consumer principal's name in every account), with the external id.
    """
    if org_id is None:
        if len(consumer_accounts) == 1:
            return access_role_trust_policy(consumer_accounts[0], consumer_principal_arns[0], external_id, partition)
        principal: Any = {"AWS": [account_root(a, partition) for a in consumer_accounts]}
        arn_condition = {"ArnEquals": {"aws:PrincipalArn": _many(consumer_principal_arns)}}
        string_equals = {"sts:ExternalId": external_id}
    else:
        principal = {"AWS": "*"}
        arn_condition = {"ArnLike": {"aws:PrincipalArn": principal_pattern}}
        string_equals = {"sts:ExternalId": external_id, "aws:PrincipalOrgID": org_id}
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "TrustConsumerPrincipal",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": string_equals, **arn_condition},
            }
        ],
    }


def endpoint_full_access_policy() -> dict:
    """Step 7 with --endpoint-policy full: AWS's default endpoint policy, for VPCs where other workloads
    also call the Data API (private DNS sends all of the VPC's rds-data traffic through this endpoint)."""
    return {
        "Version": VERSION,
        "Statement": [{"Sid": "FullAccess", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
    }


def is_full_access(doc: Any) -> bool:
    """AWS's default endpoint policy, in whichever Version/Sid form the service returns it."""
    try:
        statements = normalize(doc or "{}")["Statement"]
    except (ValueError, TypeError, AttributeError):
        return False
    return len(statements) == 1 and {k: v for k, v in statements[0].items() if k != "Sid"} == {
        "Action": "*", "Effect": "Allow", "Principal": "*", "Resource": "*"}


def external_id_of(trust: dict | None) -> str | None:
    """The sts:ExternalId a trust policy requires (the first StringEquals one), or None."""
    for s in (trust or {}).get("Statement", []):
        ext = s.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if isinstance(ext, str):
            return ext
    return None
