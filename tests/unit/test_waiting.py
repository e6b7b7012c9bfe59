"""waiting.py: retry_when and wait_until with a fake clock (no real time passes)."""
from __future__ import annotations

import threading

import pytest

from tests.helpers.clock import FakeClock
from xacct_dataapi.errors import WaitTimeout
from xacct_dataapi.waiting import (
    DEFERRED_POLL_CAP, Probe, UnexpectedState, retry_when, until_true, wait_all, wait_until,
)


class Flaky(Exception):
    pass


def test_retry_when_retries_only_retryable_errors_with_doubling_backoff():
    t = FakeClock()
    attempts = iter([Flaky(), Flaky(), Flaky(), "ok"])

    def fn():
        v = next(attempts)
        if isinstance(v, Exception):
            raise v
        return v

    assert retry_when(fn, lambda e: isinstance(e, Flaky), timeout=60, what="x", timing=t.timing()) == "ok"
    assert t.sleeps == [0.5, 1.0, 2.0]


def test_retry_when_raises_other_errors_at_once():
    t = FakeClock()

    def fn():
        raise KeyError("bug")

    with pytest.raises(KeyError):
        retry_when(fn, lambda e: isinstance(e, Flaky), timeout=60, what="x", timing=t.timing())
    assert t.sleeps == []


def test_retry_when_times_out_naming_what_and_the_last_error():
    t = FakeClock()

    def fn():
        raise Flaky("still not visible")

    with pytest.raises(WaitTimeout) as info:
        retry_when(fn, lambda e: True, timeout=10, what="the role to propagate", timing=t.timing())
    assert "the role to propagate" in info.value.message and "still not visible" in info.value.message
    assert t.now <= 10


def test_wait_until_polls_pending_until_target_and_returns_the_value():
    t = FakeClock()
    states = iter(["pending", "pending", "available"])
    seen = []
    timing = t.timing(on_wait=lambda what, elapsed: seen.append((what, elapsed)))
    value = wait_until(lambda: ("ep", next(states)), pending={"pending"}, target={"available"}, timeout=60,
                       what="endpoint", timing=timing)
    assert value == "ep"
    assert t.sleeps == [0.25, 0.375]
    assert [w for w, _ in seen] == ["endpoint", "endpoint"]


def test_wait_until_fails_at_once_on_an_unexpected_state():
    t = FakeClock()
    with pytest.raises(UnexpectedState) as info:
        wait_until(lambda: (None, "failed"), pending={"pending"}, target={"available"}, timeout=60, what="endpoint vpce-1",
                   timing=t.timing())
    assert "failed" in info.value.message and t.sleeps == []


def test_wait_until_times_out_with_the_last_state():
    t = FakeClock()
    with pytest.raises(WaitTimeout) as info:
        wait_until(lambda: (None, "pending"), pending={"pending"}, target={"available"}, timeout=3, what="endpoint",
                   timing=t.timing())
    assert "still 'pending'" in info.value.message and t.now <= 3


def test_poll_backoff_is_capped():
    t = FakeClock()
    with pytest.raises(WaitTimeout):
        until_true(lambda: False, timeout=60, what="x", timing=t.timing())
    assert max(t.sleeps) == 5.0


def states_of(*seq):
    """A refresh that returns each state in turn (the last one repeats), counting its calls."""
    seq = list(seq)
    calls = []

    def refresh():
        calls.append(1)
        return seq[min(len(calls), len(seq)) - 1]

    refresh.calls = calls
    return refresh


def test_wait_all_polls_every_pending_probe_each_round_and_drops_finished_ones():
    t = FakeClock()
    seen = []
    endpoint = states_of("pending", "pending", "pending", "available")
    data_api = states_of("off", "on")
    wait_all([Probe(endpoint, {"pending"}, {"available"}, "endpoint"), Probe(data_api, {"off"}, {"on"}, "data api")],
             timeout=60, timing=t.timing(on_wait=lambda what, elapsed: seen.append(what)))
    assert len(endpoint.calls) == 4 and len(data_api.calls) == 2  # data api not polled once it was on
    assert [round(s, 6) for s in t.sleeps] == [0.1, 0.1, 0.1]  # one sleep per round, not per probe; a short wait is polled every 0.1 s
    assert seen[0] == "endpoint, now pending; data api, now off" and seen[1] == "endpoint, now pending"


def test_wait_all_caps_its_poll_interval_at_half_a_second_and_has_one_deadline():
    t = FakeClock()
    probes = [Probe(states_of("pending"), {"pending"}, {"done"}, w) for w in ("a", "b")]
    with pytest.raises(WaitTimeout) as info:
        wait_all(probes, timeout=20, timing=t.timing())
    assert max(t.sleeps) == DEFERRED_POLL_CAP == 0.5 and 18 < t.now <= 20  # one shared deadline, not 20 s each
    assert "waiting for a (still 'pending')" in info.value.message


def test_wait_all_counts_a_rounds_round_trip_towards_the_interval():
    # Rounds start every `delay` seconds: a poll that takes 0.04 s is followed by a sleep 0.04 s shorter, so a resource
    # is asked as often as the schedule says (not once per interval plus a round trip) and the overshoot is smaller.
    t = FakeClock()

    def slow_refresh(states=iter(["pending"] * 5 + ["available"])):
        t.now += 0.04  # the round trip
        return next(states)

    wait_all([Probe(slow_refresh, {"pending"}, {"available"}, "endpoint")], timeout=60, timing=t.timing())
    assert [round(s, 3) for s in t.sleeps] == [0.06] * 5
    assert round(t.now, 3) == 0.1 * 5 + 0.04  # five rounds started on the schedule, then the last poll


def test_wait_all_fails_at_once_on_an_unexpected_state_through_that_probes_guard():
    t = FakeClock()
    guarded = []

    def guard(name):
        def run(fn):
            try:
                return fn()
            except UnexpectedState:
                guarded.append(name)
                raise
        return run

    probes = [Probe(states_of("pending"), {"pending"}, {"available"}, "endpoint", guard=guard("endpoint")),
              Probe(states_of("off", "failed"), {"off"}, {"on"}, "data api", guard=guard("data api"))]
    with pytest.raises(UnexpectedState) as info:
        wait_all(probes, timeout=60, timing=t.timing())
    assert "data api" in info.value.message and "'failed'" in info.value.message
    assert guarded == ["data api"] and t.sleeps == [0.1]


def test_wait_all_with_nothing_to_wait_for_returns_without_sleeping():
    t = FakeClock()
    wait_all([], timeout=60, timing=t.timing())
    wait_all([Probe(states_of("done"), (), {"done"}, "x")], timeout=60, timing=t.timing())
    assert t.sleeps == []


def test_wait_all_polls_the_resources_of_one_round_at_once():
    # Each poll costs a round trip on AWS: two resources polled one after the other would double the overshoot.
    both_polling = threading.Barrier(2, timeout=5)

    def refresh():
        both_polling.wait()  # only returns once the other probe is being polled too
        return "done"

    t = FakeClock()
    wait_all([Probe(refresh, {"pending"}, {"done"}, w) for w in ("endpoint", "data api")], timeout=10, timing=t.timing())
    assert t.sleeps == []  # both reached their target in the first round


def test_wait_all_polls_a_share_of_the_time_waited_between_a_tenth_and_half_a_second():
    # The interval is POLL_SHARE (1/32) of the time waited so far: 0.1 s for the first 3.2 s, then growing to the 0.5 s
    # cap at 16 s, so the expected overshoot of the poll cadence stays near 1.5% of the wait, and long waits cost two
    # polls a second, as before.
    t = FakeClock()
    probe = Probe(states_of("pending"), {"pending"}, {"done"}, "endpoint")
    with pytest.raises(WaitTimeout):
        wait_all([probe], timeout=20, timing=t.timing())
    starts, sleeps = [0.0], [round(s, 6) for s in t.sleeps]
    for s in sleeps:
        starts.append(starts[-1] + s)
    intervals = dict(zip(starts, sleeps))
    assert all(i == 0.1 for start, i in intervals.items() if start < 3.1)
    assert all(0.1 <= i <= 0.5 for i in intervals.values()) and sorted(sleeps) == sleeps
    assert all(i == DEFERRED_POLL_CAP for start, i in intervals.items() if start >= 16)
    assert all(abs(start / 32 - i) < 1e-6 for start, i in intervals.items() if 3.3 < start < 15.9)
    assert 88 <= len(t.sleeps) <= 94  # 32 rounds in the first 3.2 s, ~51 up to 16 s, 8 at 0.5 s up to the 20 s deadline
