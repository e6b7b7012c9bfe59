"""Prove the path as the application would use it: act as the deployment's consumer principal, assume the access
role with the external id, and run a real SQL statement through the Data API in the recorded database.

Who acts (never the operator's admin profile in the principal's place; the identity is checked with STS before
anything else, and a different one is refused with exit 2):

- `--as-profile P`: any profile whose identity is the recorded consumer principal (the application's own profile);
- a user xacct created: a temporary access key for that user, used in memory and deleted again (the one write
  verify makes; its id, never its secret, is recorded in the state before use, so a killed run's key is deleted
  by the next verify);
- an adopted role (`--consumer-role`): the consumer profile assumes that role first (possible only if the role's
  trust policy admits the operator); if it cannot, exit 2 naming `--as-profile`;
- an adopted user: only with `--as-profile` (verify does not mint keys for a user it did not create).

The statement always carries `database`: the Data API does not read `dbname` from the secret, and Aurora
PostgreSQL then connects to a database named after the user ("database \"app_user\" does not exist",
aws/aws-cli#8577, aws/aws-cdk#17182).
"""
from __future__ import annotations

import calendar
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import boto3
from botocore.exceptions import ClientError

from xacct_dataapi.aws import Sessions
from xacct_dataapi.aws import _session as profile_session
from xacct_dataapi.config import Names
from xacct_dataapi.errors import AwsError, UsageError, WaitTimeout, error_code, error_message
from xacct_dataapi.models import Account
from xacct_dataapi.state import State
from xacct_dataapi.waiting import Timing, retry_when
from xacct_dataapi.vantage import outside_in_sandbox

# A new access key, role or policy takes seconds to be honoured everywhere (IAM is eventually consistent:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
STS_PROPAGATION_CODES = ("InvalidClientTokenId", "AccessDenied")
# rds-data's errors (botocore/data/rds-data/2018-08-01/service-2.json): AccessDeniedException and
# ForbiddenException ("There are insufficient privileges to make the call") while the role's policy propagates;
# SecretsErrorException ("There was a problem with the Secrets Manager secret used with the request") covers
# a secret not yet readable through its resource policy or key. DatabaseResumingException: a paused Serverless v2
# cluster waking up (aws/aws-sdk-js-v3#6701). HttpEndpointNotEnabledException and DatabaseUnavailableException
# (same model) appear for a moment just after EnableHttpEndpoint and while a cluster resumes (docs/aws-facts.md).
DATA_API_RETRY_CODES = ("AccessDeniedException", "ForbiddenException", "SecretsErrorException",
                        "DatabaseResumingException", "HttpEndpointNotEnabledException", "DatabaseUnavailableException")
# The denials that only propagation explains: retried only while what the last setup wrote may still be propagating
# (propagation_left). Later, a denial is final (a statement removed by hand, a call from outside the VPC of a
# --require-private-path deployment) and verify says so at once instead of after two minutes.
PROPAGATION_CODES = ("AccessDenied", "AccessDeniedException", "ForbiddenException", "SecretsErrorException")
# The database refusing the secret's username/password: PostgreSQL's SQLSTATE 28P01 text and MySQL's error 1045 text,
# as the Data API passes them on (DatabaseErrorException, or BadRequestException on Serverless v1).
_LOGIN_REFUSED = ("password authentication failed", "access denied for user")
DEFAULT_SQL = "SELECT current_user"  # its answer names the DB user the Data API logged in as (the secret's username)
PROPAGATION_TIMEOUT = 120.0  # terraform-provider-aws's IAM propagationTimeout (internal/service/iam/wait.go)
# The last save's time comes from whichever machine saved it (team state): a clock behind ours makes the save look
# older than it is, so a denial is retried this long however old the save looks (IAM's tail is seconds, not minutes).
PROPAGATION_GRACE = 15.0

_FIX_BY_HOP = {
    "assume": "The access role's trust policy must admit this principal with the external id; `xacct status` "
              "shows step 5, and `xacct setup` repairs it.",
    "data-api": "The access role needs rds-data on the cluster (step 5) and the cluster's Data API must be on; "
                "`xacct status` shows which step differs.",
    "secret": "The access role must read the secret (steps 3-5) and decrypt it with the xacct key (steps 1-2); "
              "`xacct status` shows which step differs.",
}


# state.values key: the temporary keys verify minted and has not yet seen deleted, as {"user", "since", "id"}.
# Recorded before use (the id as soon as AWS returns it; never the secret), so a run killed while holding one
# leaves a record the next verify deletes.
TEMP_KEYS = "verify_temporary_keys"
# A killed run made its key right after saving the record (a save to a team state in S3 takes seconds): a key made
# more than this after `since`, or before it, is someone else's (the application's own key of the user), never one
# of verify's.
MINT_WINDOW = timedelta(minutes=5)


def own_user(state: State) -> str | None:
    """The one user verify mints keys for and deletes keys of: the consumer user xacct made for this deployment. A
    state file is untrusted: a row or record naming any other user (another deployment's) is never acted on."""
    name = Names(state.name).consumer_user
    return name if any(r.kind == "iam_user" and r.created and r.id == name for r in state.resources) else None


def _since(entry: Any, user: str | None) -> datetime | None:
    """When a record of a temporary key was made, if it is a well-formed record of `user`'s key (else None)."""
    if not (user and isinstance(entry, dict) and entry.get("user") == user and isinstance(entry.get("since"), str)
            and isinstance(entry.get("id") or "", str)):
        return None
    try:
        since = datetime.fromisoformat(entry["since"])
    except ValueError:
        return None
    return since if since.tzinfo else since.replace(tzinfo=timezone.utc)


def delete_leftover_keys(iam, state: State, save: Callable[[], None],
                         note: Callable[[str], None] = lambda text: None) -> None:
    """Delete the temporary keys an earlier verify recorded but did not see deleted (it was killed). A record that is
    not a well-formed one of this deployment's own user (edited, or from another deployment) is dropped unread. A key
    is deleted only when AWS lists it as that user's, made within MINT_WINDOW after the record: a recorded id is
    untrusted (an edited state could name the application's own key), so one AWS does not show so is kept, and said."""
    user, entries = own_user(state), state.values.get(TEMP_KEYS)
    if entries is not None and not isinstance(entries, list):
        state.values[TEMP_KEYS], entries = [], []
        save()
    for entry in list(entries or []):
        since = _since(entry, user)
        # Killed between CreateAccessKey and recording its id: the user's keys made just after the record.
        minted = [] if since is None else [
            k.get("AccessKeyId") for k in iam.list_access_keys(UserName=user).get("AccessKeyMetadata", [])
            if isinstance(k.get("CreateDate"), datetime) and since <= k["CreateDate"] <= since + MINT_WINDOW]
        ids = minted if since is None or not entry.get("id") else [entry["id"]] if entry["id"] in minted else []
        if since is not None and entry.get("id") and not ids:
            note(f"Kept access key {entry['id']!r}: the state records it as verify's temporary key of user {user}, "
                 f"but AWS lists no such key of that user made within {MINT_WINDOW} after {entry['since']}. If it is "
                 f"not the application's, delete it: `aws iam delete-access-key --user-name {user} --access-key-id "
                 "KEY_ID`.")
        for key_id in ids:
            try:
                iam.delete_access_key(UserName=user, AccessKeyId=key_id)
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
        state.values[TEMP_KEYS] = [e for e in state.values.get(TEMP_KEYS, []) if e != entry]
        save()


@contextmanager
def temporary_access_key(iam, state: State, save: Callable[[], None], user: str,
                         note: Callable[[str], None] = lambda text: None) -> Iterator[dict]:
    """An access key for `user`, recorded in the state before use and deleted afterwards (or by the next run)."""
    delete_leftover_keys(iam, state, save, note)
    entry = {"user": user, "since": datetime.now(timezone.utc).replace(microsecond=0).isoformat()}
    state.values[TEMP_KEYS] = [*(state.values.get(TEMP_KEYS) or []), entry]
    save()
    try:
        minted = iam.create_access_key(UserName=user)["AccessKey"]
    except ClientError as exc:
        state.values[TEMP_KEYS] = [e for e in state.values[TEMP_KEYS] if e is not entry]  # none was made
        save()
        if error_code(exc) != "LimitExceeded":
            raise
        # Not the trust policy, as the generic "failed at assuming" would say: the user holds IAM's two keys.
        raise AwsError(f"verify acts as user {user} with a temporary access key of its own, and the user already "
                       f"has the two access keys IAM allows ({error_message(exc)}).",
                       "Pass --as-profile with the profile that holds one of its keys (the application's), or delete "
                       f"a key it no longer uses (`aws iam list-access-keys --user-name {user}`).") from None
    entry["id"] = minted["AccessKeyId"]
    if isinstance(minted.get("CreateDate"), datetime):  # AWS's clock: the clean-up's window holds whatever ours reads
        entry["since"] = minted["CreateDate"].replace(microsecond=0).isoformat()
    save()
    try:
        yield minted
    finally:
        try:
            delete_leftover_keys(iam, state, save, note)
        except ClientError:
            pass  # still recorded: the next verify deletes it


@dataclass
class VerifyResult:
    principal: str  # the consumer principal that made the call (checked with STS)
    assumed: str  # the access role session it ran as
    role_arn: str
    database: str | None
    sql: str
    columns: list[str]
    rows: list[list[Any]]
    records: list = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"principal": self.principal, "assumed": self.assumed, "role_arn": self.role_arn,
                "database": self.database, "sql": self.sql, "columns": self.columns, "rows": self.rows,
                "seconds": round(self.seconds, 2)}


def _retry(fn: Callable[[], Any], codes: tuple[str, ...], timeout: float, what: str, timing: Timing | None,
           settled_by: float | None = None) -> Any:
    """fn() retried on `codes` for at most `timeout` seconds; a code of PROPAGATION_CODES only until the clock reads
    `settled_by` (when IAM has propagated what the last setup wrote: a denial after that is the answer)."""
    clock = (timing or Timing()).clock

    def retryable(exc: BaseException) -> bool:
        code = error_code(exc) if isinstance(exc, ClientError) else None
        if code not in codes:
            return False
        return code not in PROPAGATION_CODES or settled_by is None or clock() < settled_by

    return retry_when(fn, retryable, timeout=timeout, what=what, timing=timing)


def propagation_left(state: State, now: float | None = None) -> float:
    """Seconds IAM may still be propagating what the deployment's last save wrote (PROPAGATION_TIMEOUT after it);
    unknown age: the whole of it."""
    try:
        saved = calendar.timegm(time.strptime(state.updated_at or "", "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return PROPAGATION_TIMEOUT
    age = (time.time() if now is None else now) - saved
    return min(PROPAGATION_TIMEOUT, max(0.0, PROPAGATION_TIMEOUT - age))


def _session(creds: dict, aws: Sessions, profile: str | None) -> boto3.Session:
    """Temporary credentials with the profile's other settings (endpoint_url, retries) kept."""
    return boto3.Session(profile_name=profile, aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds.get("SessionToken"),
                         region_name=aws.region)


def same_principal(identity_arn: str, principal_arn: str) -> bool:
    """Is the STS identity this IAM principal? An assumed-role session (arn:aws:sts::A:assumed-role/NAME/session)
    is its role (arn:aws:iam::A:role/path/NAME); a user is its own ARN."""
    if identity_arn == principal_arn:
        return True
    parts, want = identity_arn.split(":", 5), principal_arn.split(":", 5)
    if len(parts) < 6 or len(want) < 6 or parts[4] != want[4]:
        return False
    kind, _, rest = parts[5].partition("/")
    return kind == "assumed-role" and want[5].startswith("role/") and rest.split("/")[0] == want[5].split("/")[-1]


def value_of(field_value: dict) -> Any:
    """One Data API Field ({"longValue": 7}, {"isNull": true}, ...) as a plain value."""
    if field_value.get("isNull"):
        return None
    if "arrayValue" in field_value:
        return field_value["arrayValue"]
    return next(iter(field_value.values()), None)


def _principal_session(state: State, aws: Sessions, as_profile: str | None, cleanup: ExitStack,
                       save: Callable[[], None], note: Callable[[str], None]) -> tuple[boto3.Session, str]:
    v = state.values
    principal_arn = v.get("consumer_principal_arn") or ""
    cfg = state.config
    if as_profile:
        return profile_session(as_profile, aws.region, "--as-profile"), f"--as-profile {as_profile!r}"
    user = own_user(state)
    if user is not None:
        iam = aws.client(Account.CONSUMER, "iam")
        minted = cleanup.enter_context(temporary_access_key(iam, state, save, user, note))
        return _session(minted, aws, aws.consumer_profile), f"a temporary access key of user {user}"
    if cfg.get("consumer_role"):
        sts = aws.client(Account.CONSUMER, "sts")
        if same_principal(sts.get_caller_identity()["Arn"], principal_arn):
            return aws.consumer, f"the consumer profile {aws.consumer_profile!r}"  # it already is the role
        try:
            creds = sts.assume_role(RoleArn=principal_arn, RoleSessionName="xacct-verify", DurationSeconds=900)["Credentials"]
        except ClientError as exc:
            raise UsageError(
                f"verify must act as the consumer role {principal_arn}, and the consumer profile "
                f"{aws.consumer_profile!r} cannot assume it ({error_message(exc)}).",
                "Pass --as-profile with a profile that acts as that role (the application's own profile), or run "
                "verify where the application runs.") from None
        return _session(creds, aws, aws.consumer_profile), f"the consumer profile {aws.consumer_profile!r} assuming it"
    raise UsageError(f"verify must act as the consumer user {principal_arn}; xacct did not create it and holds no key.",
                     "Pass --as-profile with a profile of that user (the application's own profile).")


def verify(state: State, aws: Sessions, *, sql: str = DEFAULT_SQL, as_profile: str | None = None,
           database: str | None = None, wait_timeout: float = PROPAGATION_TIMEOUT,
           timing: Timing | None = None, save: Callable[[], None] = lambda: None,
           note: Callable[[str], None] = lambda text: None) -> VerifyResult:
    started = time.monotonic()
    v = state.values
    role_arn, external_id = v.get("access_role_arn"), v.get("external_id")
    cluster_arn, secret_arn = v.get("cluster_arn"), v.get("secret_arn")
    principal_arn = v.get("consumer_principal_arn")
    if not all((role_arn, external_id, cluster_arn, secret_arn, principal_arn)):
        raise UsageError(f"Deployment {state.name!r} is not complete (no access role, secret or consumer principal "
                         "recorded).", "Run `xacct setup` first, then `xacct status` to see what is missing.")
    database = database or v.get("database") or state.config.get("db_name")
    timeout = min(wait_timeout, PROPAGATION_TIMEOUT)
    private = bool(state.config.get("require_private_path"))
    # In the sandbox a shell outside the VPC is known to be outside: its denials under --require-private-path are final.
    outside = private and outside_in_sandbox(str(state.config.get("vpc_id") or ""))
    settled_by = (timing or Timing()).clock() + (0.0 if outside else max(PROPAGATION_GRACE, propagation_left(state)))
    delete_leftover_keys(aws.client(Account.CONSUMER, "iam"), state, save, note)
    cleanup = ExitStack()  # deletes the temporary access key, if one is minted
    hop = "assume"
    try:
        session, how = _principal_session(state, aws, as_profile, cleanup, save, note)
        sts = session.client("sts", region_name=aws.region)
        identity = _retry(sts.get_caller_identity, STS_PROPAGATION_CODES, timeout,
                          "the consumer principal's credentials to be valid (IAM propagation)", timing)
        if not same_principal(identity["Arn"], principal_arn):
            raise UsageError(f"{how} acts as {identity['Arn']} (account {identity['Account']}), not as the consumer "
                             f"principal {principal_arn} of the consumer account {state.accounts.get('consumer')}, "
                             "the only principal the access role admits.",
                             "Pass --as-profile with a profile whose identity is that principal.")
        assumed = _retry(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="xacct-verify",
                                                 ExternalId=external_id, DurationSeconds=900),
                         STS_PROPAGATION_CODES, timeout,
                         "the access role to admit the consumer principal (IAM propagation)", timing, settled_by)
        hop = "data-api"
        rds_data = _session(assumed["Credentials"], aws, as_profile or aws.consumer_profile).client("rds-data", region_name=aws.region)
        params = {"resourceArn": cluster_arn, "secretArn": secret_arn, "sql": sql, "includeResultMetadata": True}
        if database:
            params["database"] = database
        waiting_for = "the Data API to accept the statement (IAM propagation or the cluster resuming" + (
            f"; with --require-private-path only from inside the VPC, through {v.get('endpoint_id')})" if private else ")")
        response = _retry(lambda: rds_data.execute_statement(**params), DATA_API_RETRY_CODES, timeout, waiting_for,
                          timing, settled_by)
    except (ClientError, WaitTimeout) as exc:
        cause = exc.__cause__ if isinstance(exc, WaitTimeout) else exc
        if error_code(cause) in ("DatabaseErrorException", "BadRequestException") and any(
                text in error_message(cause).lower() for text in _LOGIN_REFUSED):
            raise AwsError(f"Verification failed at the Data API's secret {secret_arn}: the database refused its "
                           f"username and password ({error_message(cause)}).",
                           "Put the database user's current password in the secret: re-run the same `xacct setup` "
                           "with --rotate-password (XACCT_DB_PASSWORD or --db-password-stdin).") from None
        if error_code(cause) == "SecretsErrorException":
            hop = "secret"
        what = {"assume": f"assuming {role_arn}", "data-api": "the Data API call", "secret": "the Data API's secret"}[hop]
        detail = exc.message if isinstance(exc, WaitTimeout) else f"{error_message(exc)}."
        private_hint = (f" The deployment was set up with --require-private-path: the access role runs statements "
                        f"only through endpoint {v.get('endpoint_id')} (aws:SourceVpce), so from outside that VPC "
                        "AccessDenied is expected." if private else "")
        raise AwsError(f"Verification failed at {what}: {detail}", _FIX_BY_HOP[hop] + private_hint) from None
    finally:
        cleanup.close()
    records = response.get("records", [])
    return VerifyResult(
        principal=identity["Arn"], assumed=assumed["AssumedRoleUser"]["Arn"], role_arn=role_arn, database=database,
        sql=sql, columns=[c.get("label") or c.get("name", "") for c in response.get("columnMetadata", [])],
        rows=[[value_of(f) for f in row] for row in records], records=records, seconds=time.monotonic() - started)
