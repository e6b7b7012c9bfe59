"""Hooks on every AWS call xacct makes, for the crash and Ctrl-C tests.

Every AWS call xacct makes goes through `xacct_dataapi.aws.Sessions.client`, so `CallHooks.install` wraps that
method and registers botocore event handlers on each client it creates: it records every *mutating* call AWS
accepted, and can kill the run (or do anything else) right after one, or make a chosen operation fail.
"""
from __future__ import annotations

import threading
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
    """Records the mutating calls AWS accepted, as 'account:service.Operation', in the order they landed.

    kill_at=k raises Killed in the `after-call` of the k-th one (1-based): AWS has done it, xacct has not
    recorded it. kill_on=(label, n) does the same at the n-th call with that label, wherever it falls: the two
    accounts' chains run at once, so which call is k-th varies. Once killed the process is dead: a call in flight
    in the other chain lands in AWS but is not recorded (Killed in its after-call too, and it is in `lost`), and
    no new call starts. after(n, label) runs after every recorded call. fail={'Operation': ClientError} makes
    that operation fail before it reaches AWS.
    """

    kill_at: int | None = None
    kill_on: tuple[str, int] | None = None
    after: Callable[[int, str], None] | None = None
    fail: dict[str, ClientError] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # accepted by AWS, never recorded: the killed call and any in flight
    dead: bool = False

    def revive(self) -> None:
        """A new process: nothing is killed any more, and the lists start empty."""
        self.kill_at = self.kill_on = None
        self.dead = False
        self.calls.clear()
        self.lost.clear()

    def install(self, monkeypatch) -> "CallHooks":
        original = aws_mod.Sessions.client
        hooks = self
        # Test speed only: building a botocore client costs more than most moto calls, and each xacct command
        # builds its own. Commands run within one test share them (per profile, region and service); they hold
        # no xacct state, so a "killed" run leaves nothing behind in them that a new process would not have.
        shared: dict = {}
        # The chains and lookups ask for clients from several threads at once. botocore's register(unique_id=) is a
        # check-then-add without a lock (botocore/hooks.py, _register_section): two threads registering on one new
        # client could both add their handler, and every call of that client was then recorded twice (seen once in
        # CI: consumer CreateTags, CreateTags, ModifyVpcEndpoint, ModifyVpcEndpoint). One lock; the client is shared
        # only once its handlers are on, so no call can go out unrecorded either.
        lock = threading.Lock()

        def client(sessions, account, service):
            profile = sessions.consumer_profile if account.value == "consumer" else sessions.provider_profile
            key = (account.value, profile, sessions.region, service)
            c = shared.get(key)
            if c is not None:
                return c
            with lock:
                c = shared.get(key)
                if c is None:
                    c = original(sessions, account, service)
                    who = account.value

                    def after_call(http_response, parsed, model, **_):
                        hooks._after_call(who, http_response, model)

                    def before_call(model, **_):
                        hooks._before_call(model)

                    c.meta.events.register("after-call.*.*", after_call, unique_id="xacct-test-after-call")
                    c.meta.events.register("before-call.*.*", before_call, unique_id="xacct-test-before-call")
                    shared[key] = c
            return c

        monkeypatch.setattr(aws_mod.Sessions, "client", client)
        return self

    def _before_call(self, model) -> None:
        if self.dead:
            raise Killed(f"dead before {model.name}")
        exc = self.fail.get(model.name)
        if exc is not None:
            raise exc

    def _after_call(self, account: str, http_response, model) -> None:
        if http_response is None or http_response.status_code >= 300 or not is_mutating(model.name):
            return
        label = f"{account}:{model.service_model.service_name}.{model.name}"
        self.calls.append(label)
        if self.dead:  # the other chain's call in flight at the crash: done in AWS, never recorded
            self.lost.append(label)
            raise Killed(label)
        n = len(self.calls)
        if self.kill_at == n or (self.kill_on is not None and self.kill_on == (label, self.calls.count(label))):
            self.dead = True
            self.lost.append(label)
            raise Killed(label)
        if self.after is not None:
            self.after(n, self.calls[-1])


def client_error(operation: str, code: str = "AccessDenied", message: str = "injected by the test") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                       operation)
