"""The one place xacct waits: retry a call while AWS is still settling, or poll until a resource settles.

Modelled on terraform-provider-aws: `retry_when` is internal/tfresource/retry.go's RetryWhen (retry a
function while the error it raises is a known eventual-consistency error, until a deadline), and
`wait_until` is helper/retry's StateChangeConf{Pending, Target, Refresh, Timeout} (poll a refresh function;
a state outside Pending and Target fails at once instead of waiting out the timeout). `wait_all` is wait_until
for several resources at once: one loop, one deadline, every pending one polled each round.

Clock and sleep are injectable so tests run without real time passing. Every loop in xacct that waits for
AWS (the executor's retries and waits, verify's propagation retries, the sandbox's readiness) goes through here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, TypeVar

import jmespath
from jmespath import functions

from xacct_dataapi.errors import AwsError, WaitTimeout
from xacct_dataapi.parallel import gather, unwrap

T = TypeVar("T")

TIMEOUT_HINT = "Raise --wait-timeout or re-run later: everything made so far is recorded."


@dataclass
class Timing:
    """Where time comes from and how polls back off. Tests pass a fake clock and sleep."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # Retries of a failing call double from 0.5 s up to 15 s: AWS asks clients to back off on errors.
    retry_first: float = 0.5
    retry_factor: float = 2.0
    retry_cap: float = 15.0
    # Polls of a settling resource grow gently to a short cap: little overshoot once AWS is ready.
    poll_first: float = 0.25
    poll_factor: float = 1.5
    poll_cap: float = 5.0
    # Called before every sleep (progress, Ctrl-C checks); may raise to stop waiting.
    on_wait: Callable[[str, float], None] = field(default=lambda what, elapsed: None)


class UnexpectedState(AwsError):
    """A resource reached a state that is neither pending nor the target (e.g. an endpoint that `failed`)."""


class _StateFunctions(functions.Functions):
    """JMESPath's functions plus lower(): AWS documents some states in one case and returns them in another
    (EC2's VpcEndpoint State: "Available" in the API reference, "available" on the wire)."""

    @functions.signature({"types": ["string"]})
    def _func_lower(self, text: str) -> str:
        return text.lower()


_STATE_OPTIONS = jmespath.Options(custom_functions=_StateFunctions())


def state_of(expression: str, response: dict) -> Any:
    """The state a Wait's JMESPath `expression` names in a read's response (what its pending and target values mean).
    A response of another shape than AWS documents (a State that is no string, for lower()) is untrusted input: its
    state is one no wait expects, so the wait stops at once naming it (UnexpectedState), not an internal error."""
    try:
        return jmespath.search(expression, response, options=_STATE_OPTIONS)
    except jmespath.exceptions.JMESPathError as exc:
        return f"unreadable: {exc}"


def acceptors(expression: str, pending: Collection, target: Collection) -> list[dict]:
    """A wait as botocore's waiter models write it (`path` acceptors: argument, expected, state). botocore keeps
    waiting when no acceptor matches; xacct's waits fail at once instead (the caller says so next to these)."""
    return ([{"matcher": "path", "argument": expression, "expected": value, "state": "success"} for value in target]
            + [{"matcher": "path", "argument": expression, "expected": value, "state": "retry"} for value in pending])


def retry_when(fn: Callable[[], T], retryable: Callable[[BaseException], bool], *, timeout: float, what: str,
               timing: Timing | None = None) -> T:
    """Call fn until it succeeds; retry only while `retryable(exc)` and the deadline allows another attempt.

    On a retryable error at the deadline, raise WaitTimeout naming `what` and the last error; any other
    error propagates unchanged at once."""
    t = timing or Timing()
    started = t.clock()
    deadline = started + timeout
    delay = t.retry_first
    while True:
        try:
            return fn()
        except Exception as exc:
            if not retryable(exc):
                raise
            if t.clock() + delay > deadline:
                raise WaitTimeout(f"Timed out after {timeout:.0f}s waiting for {what} (last error: {_describe(exc)}).",
                                  TIMEOUT_HINT) from exc
            t.on_wait(what, t.clock() - started)
            t.sleep(delay)
            delay = min(delay * t.retry_factor, t.retry_cap)


def wait_until(refresh: Callable[[], tuple[Any, str]], *, pending: Collection[str], target: Collection[str],
               timeout: float, what: str, timing: Timing | None = None) -> Any:
    """Poll `refresh() -> (value, state)` until state is in `target`; return that value.

    A state in `pending` keeps polling; any other state raises UnexpectedState at once (waiting longer
    cannot help); the deadline raises WaitTimeout."""
    t = timing or Timing()
    started = t.clock()
    deadline = started + timeout
    delay = t.poll_first
    while True:
        value, state = refresh()
        if state in target:
            return value
        if state not in pending:
            raise UnexpectedState(f"Stopped waiting for {what}: it is {state!r}, expected {' or '.join(sorted(target))}.",
                                  "Check the resource in the AWS console; re-run once it is fixed.")
        if t.clock() + delay > deadline:
            raise WaitTimeout(f"Timed out after {timeout:.0f}s waiting for {what} (still {state!r}).", TIMEOUT_HINT)
        t.on_wait(what, t.clock() - started)
        t.sleep(delay)
        delay = min(delay * t.poll_factor, t.poll_cap)


@dataclass
class Probe:
    """One resource for wait_all: `refresh() -> state`, its pending and target states, and what it is.

    `guard(fn)` runs each refresh and each failure of this probe (the runner records which item failed)."""

    refresh: Callable[[], str]
    pending: Collection[str]
    target: Collection[str]
    what: str
    guard: Callable[[Callable[[], Any]], Any] = field(default=lambda fn: fn())


# wait_all's longest interval between the starts of two rounds: at most ~0.5 s (plus one round trip) of overshoot once
# the last resource is ready. Two polls a second per resource stay far inside EC2's rate limit for describe calls (a
# bucket of 100, refilled at 20 a second: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html),
# and an endpoint's minutes of `pending` cost ~2 free requests a second.
DEFERRED_POLL_CAP = 0.5
# Below the cap, the interval is this share of the time waited so far, and at least DEFERRED_POLL_FLOOR: the poll
# cadence's expected overshoot (half an interval) stays near 1.5% of the wait. A wait of a few seconds (a Data API
# switch, a sandbox) is polled up to ten times a second, one of minutes twice a second as before (the cap from 16 s
# on). terraform-provider-aws's StateChangeConf grows its interval with the wait too (doubling from 100 ms), only much
# faster. A 90 s wait costs ~230 rounds against ~180 for 0.5 s from the start: a few dozen more describe calls, all
# in the first 16 s, at most 10 a second per resource: below the refill rate of both token buckets polled, so
# neither is drawn down: EC2's above (20 a second), and RDS's (DescribeDBClusters, for the Data API switch): a burst
# of 300 and 12 a second sustained per account and region
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html). `benchmarks/poll_schedule.py`
# measures what it saves.
POLL_SHARE = 1 / 32
DEFERRED_POLL_FLOOR = 0.1


def wait_all(probes: list[Probe], *, timeout: float, timing: Timing | None = None,
             cap: float = DEFERRED_POLL_CAP) -> None:
    """Poll every probe each round until each reaches its target: one loop and one deadline for them all.

    A probe that reached its target is not polled again; an unexpected state fails at once (UnexpectedState,
    through that probe's guard); at the deadline WaitTimeout names the first still pending. The interval between
    the starts of two rounds is POLL_SHARE of the time waited so far, at least DEFERRED_POLL_FLOOR and at most `cap`
    (and timing.poll_cap); a round's own round trip counts towards it, so at the cap a resource is asked twice a
    second, not once every 0.5 s plus a round trip (that would add ~half a round trip to the expected overshoot)."""
    t = timing or Timing()
    started = t.clock()
    deadline = started + timeout
    waiting = list(probes)
    while waiting:
        states = {}
        round_started = t.clock()
        # One round polls every resource at once (each costs a round trip); results are taken in the given order.
        results = gather(*(lambda p=p: p.guard(p.refresh) for p in waiting)) if len(waiting) > 1 else None
        for n, p in enumerate(list(waiting)):
            state = unwrap(results[n]) if results is not None else p.guard(p.refresh)
            if state in p.target:
                waiting.remove(p)
            elif state not in p.pending:
                err = UnexpectedState(f"Stopped waiting for {p.what}: it is {state!r}, expected "
                                      f"{' or '.join(sorted(p.target))}.",
                                      "Check the resource in the AWS console; re-run once it is fixed.")
                p.guard(lambda: _raise(err))
                raise err
            else:
                states[p.what] = state
        if not waiting:
            return
        waited = round_started - started
        next_round = round_started + min(max(DEFERRED_POLL_FLOOR, waited * POLL_SHARE), cap, t.poll_cap)
        if next_round > deadline:
            first = waiting[0]
            still = states[first.what]
            err = WaitTimeout(f"Timed out after {timeout:.0f}s waiting for {first.what} (still {still!r}).", TIMEOUT_HINT)
            first.guard(lambda: _raise(err))
            raise err
        t.on_wait("; ".join(f"{what}, now {state}" for what, state in states.items()), t.clock() - started)
        t.sleep(max(0.0, next_round - t.clock()))


def _raise(exc: BaseException) -> Any:
    raise exc


def until_true(probe: Callable[[], bool], *, timeout: float, what: str, timing: Timing | None = None) -> None:
    """wait_until for a yes/no probe (e.g. "are the network interfaces gone?")."""
    wait_until(lambda: (None, "done" if probe() else "pending"), pending=("pending",), target=("done",),
               timeout=timeout, what=what, timing=timing)


def _describe(exc: BaseException) -> str:
    from xacct_dataapi.errors import error_message

    return error_message(exc)
