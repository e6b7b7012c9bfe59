"""Hooks on every AWS call xacct makes, for the crash and Ctrl-C tests.

Every AWS call xacct makes goes through `xacct_dataapi.aws.Sessions.client`, so `CallHooks.install` wraps that
method and registers botocore event handlers on each client it creates: it records every *mutating* call AWS
accepted, and can kill the run (or do anything else) right after one, or make a chosen operation fail.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from botocore.exceptions import ClientError

from xacct_dataapi import aws as aws_mod

READ_PREFIXES = ("Describe", "Get", "List")


class Killed(BaseException):
    """Stands in for SIGKILL / a power cut: not an Exception, so no `except Exception` in xacct can swallow it."""


def is_mutating(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


@dataclass
class CallHooks:
    """Records the mutating calls AWS accepted, as 'account:service.Operation', in order.

    kill_at=k raises Killed in the `after-call` of the k-th one (1-based): AWS has done it, xacct has not
    recorded it. after(n, label) runs after every recorded call. fail={'Operation': ClientError} makes that
    operation fail before it reaches AWS.
    """

    kill_at: int | None = None
    after: Callable[[int, str], None] | None = None
    fail: dict[str, ClientError] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def install(self, monkeypatch) -> "CallHooks":
        original = aws_mod.Sessions.client
        hooks = self
        # Test speed only: building a botocore client costs more than most moto calls, and each xacct command
        # builds its own. Commands run within one test share them (per profile, region and service); they hold
        # no xacct state, so a "killed" run leaves nothing behind in them that a new process would not have.
        shared: dict = {}

        def client(sessions, account, service):
            profile = sessions.consumer_profile if account.value == "consumer" else sessions.provider_profile
            key = (account.value, profile, sessions.region, service)
            c = shared.get(key)
            if c is None:
                c = shared[key] = original(sessions, account, service)
                who = account.value

                def after_call(http_response, parsed, model, **_):
                    hooks._after_call(who, http_response, model)

                def before_call(model, **_):
                    hooks._before_call(model)

                c.meta.events.register("after-call.*.*", after_call, unique_id="xacct-test-after-call")
                c.meta.events.register("before-call.*.*", before_call, unique_id="xacct-test-before-call")
            return c

        monkeypatch.setattr(aws_mod.Sessions, "client", client)
        return self

    def _before_call(self, model) -> None:
        exc = self.fail.get(model.name)
        if exc is not None:
            raise exc

    def _after_call(self, account: str, http_response, model) -> None:
        if http_response is None or http_response.status_code >= 300 or not is_mutating(model.name):
            return
        self.calls.append(f"{account}:{model.service_model.service_name}.{model.name}")
        n = len(self.calls)
        if self.kill_at == n:
            raise Killed(self.calls[-1])
        if self.after is not None:
            self.after(n, self.calls[-1])


def client_error(operation: str, code: str = "AccessDenied", message: str = "injected by the test") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                       operation)
