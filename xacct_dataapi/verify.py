"""Prove the path end to end: act as the consumer principal, assume the access role with the external
id, and run a real SQL statement through the Data API.

If xacct created the consumer user, verify mints an access key for that user, uses it, and deletes it again
(the key lives only in memory; this is the one write verify makes, and it leaves nothing behind). Otherwise
the consumer profile (or --as-profile) must act as the principal. The sessions for those credentials are
built here because they are neither of the operator's two profiles.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import boto3
from botocore.exceptions import ClientError

from xacct_dataapi.aws import Sessions
from xacct_dataapi.errors import AwsError, UsageError, WaitTimeout, error_code, error_message
from xacct_dataapi.models import Account
from xacct_dataapi.state import State
from xacct_dataapi.waiting import retry_when

# A new access key or role takes a few seconds to be honoured everywhere in real AWS.
PROPAGATION_CODES = ("InvalidClientTokenId", "AccessDenied", "AccessDeniedException")
RESUMING_CODES = ("DatabaseResumingException",)


@dataclass
class VerifyResult:
    principal: str
    role_arn: str
    sql: str
    records: list
    seconds: float


def _retry(fn: Callable[[], Any], codes: tuple[str, ...], timeout: float, what: str) -> Any:
    return retry_when(fn, lambda exc: isinstance(exc, ClientError) and error_code(exc) in codes, timeout=timeout,
                      what=what)


def verify(state: State, aws: Sessions, *, sql: str = "SELECT 1", as_profile: str | None = None,
           database: str | None = None, wait_timeout: float = 120.0) -> VerifyResult:
    started = time.monotonic()
    v = state.values
    role_arn, external_id = v.get("access_role_arn"), v.get("external_id")
    cluster_arn, secret_arn = v.get("cluster_arn"), v.get("secret_arn")
    if not all((role_arn, external_id, cluster_arn, secret_arn)):
        raise UsageError(f"Deployment {state.name!r} is not complete (no access role or secret recorded).",
                         "Run `xacct setup` first, then `xacct status` to see what is missing.")
    user_row = next((r for r in state.resources if r.kind == "iam_user" and r.created), None)
    iam = aws.client(Account.CONSUMER, "iam")
    minted: dict | None = None
    try:
        if as_profile:
            session = boto3.Session(profile_name=as_profile, region_name=aws.region)
            identity = session.client("sts", region_name=aws.region).get_caller_identity()
            if identity["Account"] != state.accounts.get("consumer"):
                raise UsageError(f"--as-profile {as_profile!r} acts in account {identity['Account']}, not in the consumer "
                                 f"account {state.accounts.get('consumer')}.",
                                 "Pass a profile of the consumer principal (the application's role or user).")
            principal = identity["Arn"]
        elif user_row is not None:
            minted = iam.create_access_key(UserName=user_row.id)["AccessKey"]
            session = boto3.Session(profile_name=aws.consumer_profile, region_name=aws.region,
                                    aws_access_key_id=minted["AccessKeyId"], aws_secret_access_key=minted["SecretAccessKey"])
            principal = user_row.arn or user_row.id
        else:
            session, principal = aws.consumer, aws.consumer_profile or "default credentials"
        sts = session.client("sts", region_name=aws.region)
        creds = _retry(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="xacct-verify", ExternalId=external_id,
                                               DurationSeconds=900)["Credentials"], PROPAGATION_CODES, wait_timeout,
                       "the access role to admit the consumer principal (IAM propagation)")
        assumed = boto3.Session(profile_name=aws.consumer_profile, region_name=aws.region,
                                aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                aws_session_token=creds["SessionToken"])
        rds_data = assumed.client("rds-data", region_name=aws.region)
        params = {"resourceArn": cluster_arn, "secretArn": secret_arn, "sql": sql}
        if database:
            params["database"] = database
        response = _retry(lambda: rds_data.execute_statement(**params), RESUMING_CODES + PROPAGATION_CODES, wait_timeout,
                          "the Data API to accept the statement (cluster resuming or IAM propagation)")
    except (ClientError, WaitTimeout) as exc:
        detail = exc.message if isinstance(exc, WaitTimeout) else f"{error_message(exc)}."
        raise AwsError(f"Verification failed: {detail}",
                       "Run `xacct status` to check every step; if all are done, wait a minute for IAM to propagate "
                       "and retry.") from None
    finally:
        if minted is not None:
            try:
                iam.delete_access_key(UserName=user_row.id, AccessKeyId=minted["AccessKeyId"])
            except ClientError:
                pass
    return VerifyResult(principal, role_arn, sql, response.get("records", []), time.monotonic() - started)
