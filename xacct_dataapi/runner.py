"""The executor: the ONLY code that makes mutating AWS calls. It knows nothing about any AWS service.

It runs a Plan's steps item by item: an AWS Call (retried on the eventual-consistency errors it names), a step's
composite Operation, Bookkeeping, or a WaitFor; the two accounts' steps at once, as the values they name allow
(plan_order.step_dependencies). It resolves Refs, records what each item produced and saves the state file atomically
AFTER EVERY ITEM (one at a time), so a run killed at any point loses nothing. Deferred waits are polled together
after the last item (waiting.wait_all). Ctrl-C is deferred: items in flight finish and are recorded, then exit 130.
"""
from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from xacct_dataapi import state as state_mod
from xacct_dataapi.aws import Sessions
from xacct_dataapi.errors import StepFailed, XacctError, error_code, error_message, interruption
from xacct_dataapi.hooks import InterruptRequest, OperationContext, Reporter, deferred_sigint
from xacct_dataapi.models import NOTHING_CHANGED, Call, Operation, Plan, PlanItem, StepPlan, dig, resolve_value
from xacct_dataapi.plan_order import step_dependencies
from xacct_dataapi.parallel import run_graph
from xacct_dataapi.state import ResourceRow, State
from xacct_dataapi.waiting import Probe, Timing, retry_when, state_of, wait_all

# XacctError: a wait that timed out or hit a bad state; ResponseParserError: an endpoint answering non-AWS text.
AWS_FAILURES = (ClientError, BotoCoreError, ResponseParserError, XacctError)


class Runner:
    def __init__(self, aws: Sessions, state: State, state_path: Path | None, reporter: Reporter | None = None, *,
                 wait_timeout: float = 300.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, secrets: dict[str, Callable[[], str]] | None = None):
        self.aws, self.state, self.state_path, self.wait_timeout, self.secrets = (aws, state, state_path, wait_timeout,
                                                                                  secrets or {})  # name -> ask for it
        self.reporter, self.timing = reporter or Reporter(), Timing(clock=clock, sleep=sleep, on_wait=self._on_wait)
        self.calls_made: list[str] = []  # "service.method" of every AWS call that changed something
        self.notes: list[str] = []  # things the operator should know (e.g. what was deliberately left)
        self.forgotten: list[tuple[PlanItem, bool, str | None]] = []  # per row forgotten: (item, changed AWS?, why not)
        self._interrupt, self._stop = InterruptRequest(), threading.Event()
        self._lock = threading.RLock()  # the state and its file: the chains record one item at a time

    def execute(self, plan: Plan) -> None:
        self._deferred: list[tuple[StepPlan, PlanItem]] = []
        self._kind = plan.kind  # "setup" or "teardown": what an interrupted run tells the operator to re-run
        with deferred_sigint(self._interrupt):
            steps = [s for s in plan.steps if s.calls]  # the two accounts' chains at once (plan_order.step_dependencies)
            run_graph(steps, step_dependencies(steps), self._run_step, self._stop)
            self._check_interrupt(None)
            wait_all([self._probe(step, item) for step, item in self._deferred], timeout=self.wait_timeout,
                     timing=self.timing)
            self._check_interrupt(None)

    def _run_step(self, step: StepPlan) -> None:
        self.reporter.step_started(step)
        for item in step.calls:
            self._check_interrupt(step)
            if self._stop.is_set():
                return  # the other chain failed: its error is raised; this one stops between calls
            self.reporter.call_done(step, item, *self._run(step, item))
        self.reporter.step_done(step)

    def _check_interrupt(self, step: StepPlan | None) -> None:
        if self._interrupt.is_set():
            self.state.last_error = {"step": step.number if step else None, "message": "interrupted", "during": self._kind}
            self.save()
            kept = "everything not yet deleted" if self._kind == "teardown" else "everything made so far"
            how = "Terminated (SIGTERM)" if self._interrupt.signum == signal.SIGTERM else "Interrupted"
            raise interruption(self._interrupt.signum,
                               f"{how}: the call in flight finished and {kept} is recorded in {self.state_path}.",
                               f"Run the same command again (`xacct {self._kind}`, same --name or --state) to resume.")

    def _on_wait(self, what: str, elapsed: float) -> None:  # Ctrl-C stops a wait; an unconfirmed delete keeps its row
        self._check_interrupt(None)
        self.reporter.waiting(what, elapsed, self.wait_timeout)

    def _resolve(self, value: Any) -> Any:
        with self._lock:
            return resolve_value(value, self.state.values, self.secrets)

    def save(self) -> None:
        with self._lock:  # one writer of the state file at a time; the chains' records land whole, one by one
            if self.state_path is not None:
                state_mod.save(self.state, self.state_path)

    def _run(self, step: StepPlan, item: PlanItem) -> tuple[bool, str | None]:  # (False, why): nothing to do
        # Values the item's parameters name (a new external id) are recorded before it runs, never after.
        with self._lock:
            self.state.values.update(item.store)
        response = self._guarded(step, item, lambda: self._perform(item))
        with self._lock:
            self._record(step, item, response)
        changed = NOTHING_CHANGED not in response
        if item.forget is not None:
            self.forgotten.append((item, item.changes_aws and changed, response.get(NOTHING_CHANGED)))
        if item.wait is not None and changed:
            if item.wait.deferred:
                self._deferred.append((step, item))
            else:  # a wait in line (the Data API turning off at teardown): polled as often as the deferred ones
                wait_all([self._probe(step, item)], timeout=self.wait_timeout, timing=self.timing)
        return changed, response.get(NOTHING_CHANGED)

    def _guarded(self, step: StepPlan, item: PlanItem, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except AWS_FAILURES as exc:
            self.state.last_error = {"step": step.number, "title": step.title, "method": item.label.replace(":", "."),
                                     "message": exc.message if isinstance(exc, XacctError) else error_message(exc)}
            self.save()
            if isinstance(exc, XacctError):
                raise
            raise StepFailed(step.number, step.title, item.label, exc) from exc

    def _perform(self, item: PlanItem) -> dict:
        params, ops = self._resolve(item.params), OperationContext(self, item.account)
        if item.guard is not None and (gone := ops.screen(item.guard)):  # AWS must show the row is ours first
            return gone
        if isinstance(item, Operation):
            return ops.run(item.name, **params)
        if not isinstance(item, Call):
            return {}  # Bookkeeping and WaitFor make no call
        method = getattr(self.aws.client(item.account, item.service), item.method)

        def attempt() -> dict:
            try:
                response = method(**params)
            except ClientError as exc:
                if error_code(exc) in item.ok_codes:
                    return {NOTHING_CHANGED: error_code(exc)}
                raise
            self.calls_made.append(f"{item.service}.{item.method}")
            return response

        return attempt() if item.retry is None else retry_when(attempt, item.retry.matches, timeout=self.wait_timeout,
                                                               what=item.retry.reason, timing=self.timing)

    def _probe(self, step: StepPlan, item: PlanItem) -> Probe:
        wait = item.wait
        read = self._guarded(step, item, lambda: getattr(self.aws.client(wait.account, wait.service), wait.method))
        params = self._resolve(wait.params)
        return Probe(lambda: state_of(wait.state, read(**params)), wait.pending, wait.target, wait.naming(params),
                     guard=lambda fn: self._guarded(step, item, fn))

    def _record(self, step: StepPlan, item: PlanItem, response: dict) -> None:  # under self._lock
        for key, path in item.outputs.items():
            self.state.values[key] = dig(response, path)
        if item.record is not None:
            r = item.record
            self.state.record(ResourceRow(
                step=step.number, kind=r.kind, id=str(self._resolve(r.id)), account=item.account.value,
                arn=self._resolve(r.arn) if r.arn is not None else None,
                name=self._resolve(r.name) if r.name is not None else None, created=r.created))
        if item.forget is not None:  # its id may be a Ref to what the item answered (a row it replaced)
            self.state.forget(item.forget[0], str(self._resolve(item.forget[1])))
        self.save()

