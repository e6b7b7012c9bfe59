"""The executor: the ONLY code that makes mutating AWS calls.

It walks a Plan call by call, resolves Refs from the state, makes the call (retrying the eventual-
consistency errors the call names, with bounded backoff), records what the call produced, and saves
the state file atomically AFTER EVERY CALL, so a run killed at any point loses nothing. Ctrl-C is
deferred: the call in flight finishes and is recorded, then the run stops (exit 130).
"""
from __future__ import annotations

import json
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from xacct_dataapi import state as state_mod
from xacct_dataapi.aws import Sessions
from xacct_dataapi.errors import Interrupted, StepFailed, WaitTimeout, error_code, error_message
from xacct_dataapi.models import Account, Call, JsonDoc, Plan, Ref, Sensitive, StepPlan
from xacct_dataapi.state import ResourceRow, State


# A response carrying this key made no change (already done, already gone, or deliberately skipped):
# the call's Wait, if any, is not run.
NOTHING_CHANGED = "_xacct_nothing_changed"


class Reporter:
    """What the runner tells the UI. The CLI's renderer implements it; tests can record it."""

    def step_started(self, step: StepPlan) -> None: ...

    def call_done(self, step: StepPlan, call: Call) -> None: ...

    def waiting(self, what: str) -> None: ...

    def step_done(self, step: StepPlan) -> None: ...


class _Interrupt:
    def __init__(self) -> None:
        self.requested = False


@contextmanager
def deferred_sigint(flag: _Interrupt):
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        flag.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


class Runner:
    def __init__(self, aws: Sessions, state: State, state_path: Path | None, reporter: Reporter | None = None, *,
                 wait_timeout: float = 300.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.aws = aws
        self.state = state
        self.state_path = state_path
        self.reporter = reporter or Reporter()
        self.wait_timeout = wait_timeout
        self.sleep = sleep
        self.clock = clock
        self.calls_made: list[str] = []  # "service.method" of every AWS call that changed something
        self.notes: list[str] = []  # things the operator should know (e.g. what was deliberately left)
        self._interrupt = _Interrupt()
        self._deferred: list[tuple[StepPlan, Call]] = []

    # --- driving ---------------------------------------------------------------------------

    def execute(self, plan: Plan) -> None:
        self._deferred: list[tuple[StepPlan, Call]] = []
        with deferred_sigint(self._interrupt):
            for step in plan.steps:
                if not step.calls:
                    continue
                self.reporter.step_started(step)
                for call in step.calls:
                    self._check_interrupt(step)
                    self._run(step, call)
                    self.reporter.call_done(step, call)
                self.reporter.step_done(step)
            for step, call in self._deferred:
                self._check_interrupt(step)
                self._wait_or_fail(step, call)
            self._check_interrupt(None)

    def _check_interrupt(self, step: StepPlan | None) -> None:
        if self._interrupt.requested:
            self.state.last_error = {"step": step.number if step else None, "message": "interrupted"}
            self.save()
            raise Interrupted(
                "Interrupted: the call in flight finished and everything made so far is recorded in "
                f"{self.state_path}.",
                "Run the same command again to resume.",
            )

    def save(self) -> None:
        if self.state_path is not None:
            state_mod.save(self.state, self.state_path)

    # --- one call --------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Ref):
            if self.state.values.get(value.key) is None:
                raise RuntimeError(f"internal error: {value} is not known yet")
            return self.state.values[value.key]
        if isinstance(value, Sensitive):
            return value.reveal()
        if isinstance(value, JsonDoc):
            return json.dumps(self.resolve(value.doc), separators=(",", ":"))
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.resolve(v) for v in value]
        return value

    def _run(self, step: StepPlan, call: Call) -> None:
        # Values the call's parameters name (a new external id) are recorded before the call, never after.
        self.state.values.update(call.store)
        try:
            params = self.resolve(call.params)
            response = self._invoke(call, params)
        except (ClientError, BotoCoreError, WaitTimeout, RuntimeError) as exc:
            self._fail(step, call, exc)
        self._record(step, call, response)
        if call.wait is not None and NOTHING_CHANGED not in response:
            if call.wait.deferred:
                self._deferred.append((step, call))
            else:
                self._wait_or_fail(step, call)

    def _wait_or_fail(self, step: StepPlan, call: Call) -> None:
        try:
            self._wait(call.wait)
        except (ClientError, BotoCoreError, WaitTimeout, RuntimeError) as exc:
            self._fail(step, call, exc)

    def _fail(self, step: StepPlan, call: Call, exc: BaseException):
        self.state.last_error = {
            "step": step.number,
            "title": step.title,
            "method": f"{call.service}.{call.method}",
            "message": error_message(exc),
        }
        self.save()
        if isinstance(exc, WaitTimeout):
            raise exc
        raise StepFailed(step.number, step.title, f"{call.service}:{call.method}", exc) from exc

    def _invoke(self, call: Call, params: dict) -> dict:
        if call.service == "xacct":
            op = getattr(self, f"_op_{call.method}")
            return op(call.account, **params) or {}
        client = self.aws.client(call.account, call.service)
        method = getattr(client, call.method)
        deadline = self.clock() + self.wait_timeout
        delay = 0.5
        while True:
            try:
                response = method(**params)
                self.calls_made.append(f"{call.service}.{call.method}")
                return response
            except ClientError as exc:
                code = error_code(exc)
                if code in call.ok_codes:
                    return {NOTHING_CHANGED: code}
                if not self._retryable(call, exc) or self.clock() + delay > deadline:
                    if call.retry and self._retryable(call, exc):
                        raise WaitTimeout(
                            f"Timed out after {self.wait_timeout:.0f}s waiting for {call.retry.reason} "
                            f"({call.service}:{call.method} kept returning {error_message(exc)}).",
                            "Raise --wait-timeout or re-run later: everything made so far is recorded.",
                        ) from exc
                    raise
                self.reporter.waiting(call.retry.reason)
                self.sleep(delay)
                delay = min(delay * 2, 15.0)

    @staticmethod
    def _retryable(call: Call, exc: ClientError) -> bool:
        if call.retry is None or error_code(exc) not in call.retry.codes:
            return False
        if not call.retry.message_contains:
            return True
        message = str(exc.response.get("Error", {}).get("Message", "")).lower()
        return any(m.lower() in message for m in call.retry.message_contains)

    def _record(self, step: StepPlan, call: Call, response: dict) -> None:
        for key, path in call.outputs.items():
            self.state.values[key] = dig(response, path)
        if call.record is not None:
            r = call.record
            self.state.record(ResourceRow(
                step=step.number, kind=r.kind, id=str(self.resolve(r.id)), account=call.account.value,
                arn=self.resolve(r.arn) if r.arn is not None else None,
                name=self.resolve(r.name) if r.name is not None else None, created=r.created))
        if call.forget is not None:
            self.state.forget(*call.forget)
        self.save()

    # --- waiting ---------------------------------------------------------------------------

    def poll(self, what: str, probe: Callable[[], bool]) -> None:
        deadline = self.clock() + self.wait_timeout
        delay = 0.25
        while not probe():
            # Stop without treating the operation as done: a delete not yet confirmed keeps its state row.
            self._check_interrupt(None)
            if self.clock() + delay > deadline:
                raise WaitTimeout(f"Timed out after {self.wait_timeout:.0f}s waiting for {what}.",
                                  "Raise --wait-timeout or re-run later: everything made so far is recorded.")
            self.reporter.waiting(what)
            self.sleep(delay)
            delay = min(delay * 1.5, 5.0)  # a short cap: little overshoot once AWS is ready

    def _wait(self, wait) -> None:
        account = wait.account or Account.PROVIDER
        client = self.aws.client(account, wait.service)
        params = self.resolve(wait.params)
        self.poll(wait.what, lambda: wait.ready(getattr(client, wait.method)(**params)))

    # --- composite operations (several calls that must happen together) --------------------

    def _op_record(self, account: Account) -> dict:
        return {}

    def _op_schedule_key_deletion(self, account: Account, KeyId: str, PendingWindowInDays: int) -> dict:
        kms = self.aws.client(account, "kms")
        try:
            kms.schedule_key_deletion(KeyId=KeyId, PendingWindowInDays=PendingWindowInDays)
            self.calls_made.append("kms.schedule_key_deletion")
        except ClientError as exc:
            if error_code(exc) == "NotFoundException":
                return {}
            if error_code(exc) == "KMSInvalidStateException" and \
                    kms.describe_key(KeyId=KeyId)["KeyMetadata"].get("KeyState") == "PendingDeletion":
                return {}
            raise
        return {}

    def _op_delete_iam_role(self, account: Account, RoleName: str) -> dict:
        iam = self.aws.client(account, "iam")
        try:
            for name in iam.list_role_policies(RoleName=RoleName).get("PolicyNames", []):
                iam.delete_role_policy(RoleName=RoleName, PolicyName=name)
                self.calls_made.append("iam.delete_role_policy")
            for pol in iam.list_attached_role_policies(RoleName=RoleName).get("AttachedPolicies", []):
                iam.detach_role_policy(RoleName=RoleName, PolicyArn=pol["PolicyArn"])
                self.calls_made.append("iam.detach_role_policy")
            iam.delete_role(RoleName=RoleName)
            self.calls_made.append("iam.delete_role")
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
        return {}

    def _op_delete_iam_user(self, account: Account, UserName: str) -> dict:
        iam = self.aws.client(account, "iam")
        try:
            # AWS refuses to delete a user that still has keys or policies (DeleteConflict).
            for key in iam.list_access_keys(UserName=UserName).get("AccessKeyMetadata", []):
                iam.delete_access_key(UserName=UserName, AccessKeyId=key["AccessKeyId"])
                self.calls_made.append("iam.delete_access_key")
            for name in iam.list_user_policies(UserName=UserName).get("PolicyNames", []):
                iam.delete_user_policy(UserName=UserName, PolicyName=name)
                self.calls_made.append("iam.delete_user_policy")
            for pol in iam.list_attached_user_policies(UserName=UserName).get("AttachedPolicies", []):
                iam.detach_user_policy(UserName=UserName, PolicyArn=pol["PolicyArn"])
                self.calls_made.append("iam.detach_user_policy")
            try:
                iam.delete_login_profile(UserName=UserName)
                self.calls_made.append("iam.delete_login_profile")
            except ClientError as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
            iam.delete_user(UserName=UserName)
            self.calls_made.append("iam.delete_user")
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
        return {}

    def _op_delete_vpc_endpoint(self, account: Account, VpcEndpointId: str) -> dict:
        ec2 = self.aws.client(account, "ec2")
        try:
            eps = ec2.describe_vpc_endpoints(VpcEndpointIds=[VpcEndpointId])["VpcEndpoints"]
        except ClientError as exc:
            if "NotFound" in error_code(exc):
                return {}
            raise
        if not eps or str(eps[0].get("State", "")).lower() == "deleted":
            return {}
        result = ec2.delete_vpc_endpoints(VpcEndpointIds=[VpcEndpointId])
        self.calls_made.append("ec2.delete_vpc_endpoints")
        for failure in result.get("Unsuccessful", []):
            err = failure.get("Error", {})
            if "NotFound" not in str(err.get("Code", "")):
                raise ClientError({"Error": {"Code": err.get("Code", "Unsuccessful"), "Message": err.get("Message", "")}},
                                  "DeleteVpcEndpoints")

        def gone() -> bool:
            try:
                found = ec2.describe_vpc_endpoints(VpcEndpointIds=[VpcEndpointId])["VpcEndpoints"]
            except ClientError as exc:
                if "NotFound" in error_code(exc):
                    return True
                raise
            return not found or str(found[0].get("State", "")).lower() == "deleted"

        self.poll(f"endpoint {VpcEndpointId} to be deleted", gone)
        # Its network interfaces take longer; the security group's deletion (planned last) waits for them.
        return {}

    def _op_delete_security_group(self, account: Account, GroupId: str) -> dict:
        ec2 = self.aws.client(account, "ec2")

        def enis_gone() -> bool:
            left = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [GroupId]}])
            return not left.get("NetworkInterfaces")

        # The endpoint's interfaces hold the group for minutes after the endpoint is deleted.
        self.poll(f"the network interfaces using security group {GroupId} to disappear", enis_gone)
        def try_delete() -> bool:
            try:
                ec2.delete_security_group(GroupId=GroupId)
                self.calls_made.append("ec2.delete_security_group")
                return True
            except ClientError as exc:
                code = error_code(exc)
                if code == "InvalidGroup.NotFound":
                    return True
                if code == "DependencyViolation":
                    # The endpoint's network interfaces can take minutes to release the group.
                    return False
                raise

        self.poll(f"security group {GroupId} to be released by the endpoint's network interfaces (DependencyViolation)", try_delete)
        return {}

    def _op_disable_data_api(self, account: Account, ClusterId: str, ClusterArn: str, EngineMode: str,
                             Deployment: str) -> dict:
        others = other_deployments_on_cluster(self.aws.client(account, "iam"), ClusterArn, Deployment)
        if others:
            self.reporter.waiting(f"leaving the Data API on: deployment(s) {', '.join(others)} use cluster {ClusterId}")
            self.notes.append(f"Left the Data API on for cluster {ClusterId}: xacct deployment(s) {', '.join(others)} use it.")
            return {NOTHING_CHANGED: "in use"}
        rds = self.aws.client(account, "rds")
        try:
            if EngineMode == "serverless":
                rds.modify_db_cluster(DBClusterIdentifier=ClusterId, EnableHttpEndpoint=False, ApplyImmediately=True)
                self.calls_made.append("rds.modify_db_cluster")
            else:
                rds.disable_http_endpoint(ResourceArn=ClusterArn)
                self.calls_made.append("rds.disable_http_endpoint")
        except ClientError as exc:
            if error_code(exc) in ("DBClusterNotFoundFault", "ResourceNotFoundFault"):
                return {NOTHING_CHANGED: error_code(exc)}
            raise
        return {}  # the call's Wait then polls until the Data API is off


def other_deployments_on_cluster(iam, cluster_arn: str, deployment: str) -> list[str]:
    """Other xacct deployments whose access role may run statements on this cluster (read-only)."""
    found = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page.get("Roles", []):
            name = role["RoleName"]
            if not (name.startswith("xacct-") and name.endswith("-data-api-access")):
                continue
            other = name[len("xacct-"):-len("-data-api-access")]
            if other == deployment:
                continue
            try:
                doc = iam.get_role_policy(RoleName=name, PolicyName=f"xacct-{other}-data-api")["PolicyDocument"]
            except ClientError:
                continue
            if cluster_arn in json.dumps(doc):
                found.append(other)
    return sorted(found)
