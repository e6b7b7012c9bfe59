"""Independent read-only lookups, run concurrently: on real AWS each one costs a round trip.

boto3 clients are thread-safe; Sessions.client() creates them under a lock. Results come back in the
order given, and errors are re-raised by the caller in that order, so output stays deterministic.
"""
from __future__ import annotations

import threading
from typing import Any, Callable


def gather(*fns: Callable[[], Any]) -> list[tuple[Any, BaseException | None]]:
    """Run the lookups concurrently; each result is (value, None) or (None, the exception it raised).

    Each in its own daemon thread (Pending), not a ThreadPoolExecutor's: leaving an executor joins its threads, and
    so does the interpreter's exit, so a Ctrl-C or SIGTERM while a request hangs would wait for botocore's read
    timeout (60 s) before the run could say it stopped."""
    results = []
    for lookup in [Pending(fn) for fn in fns]:
        try:
            results.append((lookup.get(), None))
        except Exception as exc:  # re-raised by the caller, in a deterministic order
            results.append((None, exc))
    return results


def unwrap(pair: tuple[Any, BaseException | None]) -> Any:
    """The value of one gather() result, or raise its exception."""
    value, exc = pair
    if exc is not None:
        raise exc
    return value


class Pending:
    """A lookup started now, in its own thread, whose result is read later: `get()` waits for it and returns its value
    or raises its error (the same one to every reader). Its own thread, not a pool's: a lookup may wait for another
    Pending (the principal's ARN needs the account id), and a bounded pool could starve on that."""

    def __init__(self, fn: Callable[[], Any]):
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = fn()
            except BaseException as exc:  # handed to every reader by get()
                self._error = exc
            finally:
                self._done.set()

        threading.Thread(target=run, name="xacct-lookup", daemon=True).start()

    def get(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


def run_graph(tasks: list[Any], waits_for: list[set[int]], run: Callable[[Any], None], stop: threading.Event) -> None:
    """run(task) for every task, each in its own thread as soon as the tasks it waits for (by index) are done.
    After a failure no further task starts, and `stop` is set so that running ones stop at their next boundary;
    once every started task has ended, the failure of the earliest task is raised."""
    done = [threading.Event() for _ in tasks]
    errors: dict[int, BaseException] = {}

    def worker(n: int) -> None:
        try:
            for e in waits_for[n]:
                done[e].wait()
            if not errors and not stop.is_set():
                run(tasks[n])
        except BaseException as exc:  # handed to the caller below
            errors[n] = exc
            stop.set()
        finally:
            done[n].set()

    for n in range(len(tasks)):
        threading.Thread(target=worker, args=(n,), name=f"xacct-step-{n}", daemon=True).start()
    for d in done:
        while not d.wait(0.2):  # short waits: the main thread keeps taking Ctrl-C (deferred_sigint)
            pass
    if errors:
        raise errors[min(errors)]
