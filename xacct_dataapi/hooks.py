"""The executor's seams: what the UI hears from it (Reporter), what a step's composite Operation may use and how
the executor finds one by name and screens a guarded delete (OperationContext), and how Ctrl-C reaches it
(deferred_sigint). Steps and the UI depend on these, never on the executor itself."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable, Protocol

from xacct_dataapi.models import Account, PlanItem, StepPlan
from xacct_dataapi.procedures import lookup
from xacct_dataapi.resource_types import before_delete
from xacct_dataapi.waiting import until_true


class ExecutorSeams(Protocol):
    """What an Operation may reach of the executor (runner.Runner provides it): named here so that this module,
    which steps and resource types import, never imports the executor."""

    aws: Any
    calls_made: list[str]
    notes: list[str]
    reporter: "Reporter"
    wait_timeout: float
    timing: Any


class Reporter:
    """What the executor tells the UI. The CLI's renderer implements it; tests can record it."""

    def step_started(self, step: StepPlan) -> None: ...

    def call_done(self, step: StepPlan, call: PlanItem, changed: bool = True, why: str | None = None) -> None:
        """`changed` is False when the item found nothing to do (already done, already gone, or kept because other
        deployments use it); `why` then says which."""

    def waiting(self, what: str, elapsed: float | None = None, limit: float | None = None) -> None:
        """A wait or retry in progress (`elapsed` seconds so far, `limit` the --wait-timeout), called before every
        sleep; without `elapsed` it is a note about the run (something deliberately left, say)."""

    def step_done(self, step: StepPlan) -> None: ...


class OperationContext:
    """What a step's composite Operation may use: its account's clients, counted mutating calls, waits, notes."""

    def __init__(self, runner: ExecutorSeams, account: Account):
        self.runner, self.account = runner, account

    def client(self, service: str):
        return self.runner.aws.client(self.account, service)

    def call(self, service: str, method: str, **params) -> dict:
        response = getattr(self.client(service), method)(**params)
        self.runner.calls_made.append(f"{service}.{method}")
        return response

    def run(self, procedure: str, **params) -> dict:
        """An Operation's registered procedure (procedures.py), by its name."""
        return lookup(procedure)(self, **params) or {}

    def screen(self, guard: dict) -> dict | None:
        """Before a guarded delete, read the resource again (resource_types.before_delete): None when AWS shows it is
        the deployment's, the "already gone" response when it is gone; NotOurs is raised for anything else."""
        return before_delete(self, guard)

    def wait_until(self, what: str, probe: Callable[[], bool]) -> None:
        until_true(probe, timeout=self.runner.wait_timeout, what=what, timing=self.runner.timing)

    def note(self, text: str) -> None:
        self.runner.notes.append(text)
        self.runner.reporter.waiting(text)


class InterruptRequest(threading.Event):
    """Set by Ctrl-C or SIGTERM; `signum` says which, so the run ends with the matching exit code (130 or 143)."""

    signum: int | None = None


@contextmanager
def deferred_sigint(requested: threading.Event):
    """Ctrl-C and SIGTERM set `requested` instead of raising, so the executor stops between calls, never inside one
    (a CI job cancelled with SIGTERM leaves a state file as resumable as after Ctrl-C)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request(signum, frame) -> None:
        if getattr(requested, "signum", None) is None:
            requested.signum = signum
        requested.set()

    previous = {s: signal.signal(s, request) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
