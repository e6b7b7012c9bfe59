"""Prove the path end to end: act as the consumer principal, assume the access role with the external
id, and run a real SQL statement through the Data API.

If xacct created the consumer user, verify mints an access key for that user, uses it, and deletes it again
(the key lives only in memory; this is the one write verify makes, and it leaves nothing behind). Otherwise
the consumer profile (or --as-profile) must act as the principal. The sessions for those credentials are
built here because they are neither of the operator's two profiles.
"""
from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

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


# state.values key: the temporary keys verify minted and has not yet seen deleted, as {"user", "since", "id"}.
# Recorded before use (the id as soon as AWS returns it; never the secret), so a run killed while holding one
# leaves a record the next verify deletes.
TEMP_KEYS = "verify_temporary_keys"


def delete_leftover_keys(iam, state: State, save: Callable[[], None]) -> None:
    """Delete the temporary keys an earlier verify recorded but did not see deleted (it was killed)."""
    for entry in list(state.values.get(TEMP_KEYS) or []):
        ids = [entry["id"]] if entry.get("id") else [
            # Killed between CreateAccessKey and recording its id: the user's keys made since the record.
            k["AccessKeyId"] for k in iam.list_access_keys(UserName=entry["user"]).get("AccessKeyMetadata", [])
            if k["CreateDate"] >= datetime.fromisoformat(entry["since"])]
        for key_id in ids:
            try:
                iam.delete_access_key(UserName=entry["user"], AccessKeyId=key_id)
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
        state.values[TEMP_KEYS] = [e for e in state.values.get(TEMP_KEYS, []) if e != entry]
        save()


@contextmanager
def temporary_access_key(iam, state: State, save: Callable[[], None], user: str) -> Iterator[dict]:
    """An access key for `user`, recorded in the state before use and deleted afterwards (or by the next run)."""
    delete_leftover_keys(iam, state, save)
    entry = {"user": user, "since": datetime.now(timezone.utc).replace(microsecond=0).isoformat()}
    state.values[TEMP_KEYS] = [*(state.values.get(TEMP_KEYS) or []), entry]
    save()
    minted = iam.create_access_key(UserName=user)["AccessKey"]
    entry["id"] = minted["AccessKeyId"]
    save()
    try:
        yield minted
    finally:
        try:
            delete_leftover_keys(iam, state, save)
        except ClientError:
            pass  # still recorded: the next verify deletes it


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
           database: str | None = None, wait_timeout: float = 120.0,
           save: Callable[[], None] = lambda: None) -> VerifyResult:
    started = time.monotonic()
    v = state.values
    role_arn, external_id = v.get("access_role_arn"), v.get("external_id")
    cluster_arn, secret_arn = v.get("cluster_arn"), v.get("secret_arn")
    if not all((role_arn, external_id, cluster_arn, secret_arn)):
        raise UsageError(f"Deployment {state.name!r} is not complete (no access role or secret recorded).",
                         "Run `xacct setup` first, then `xacct status` to see what is missing.")
    user_row = next((r for r in state.resources if r.kind == "iam_user" and r.created), None)
    iam = aws.client(Account.CONSUMER, "iam")
    delete_leftover_keys(iam, state, save)
    cleanup = ExitStack()  # deletes the temporary access key, if one is minted
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
            minted = cleanup.enter_context(temporary_access_key(iam, state, save, user_row.id))
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
        private = (f" The deployment was set up with --require-private-path: the access role runs statements only "
                   f"through endpoint {v.get('endpoint_id')} (aws:SourceVpce), so from outside that VPC AccessDenied "
                   "is expected." if state.config.get("require_private_path") else "")
        raise AwsError(f"Verification failed: {detail}",
                       "Run `xacct status` to check every step; if all are done, wait a minute for IAM to propagate "
                       "and retry." + private) from None
    finally:
        cleanup.close()
    return VerifyResult(principal, role_arn, sql, response.get("records", []), time.monotonic() - started)
