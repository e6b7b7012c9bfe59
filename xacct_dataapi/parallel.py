"""Independent read-only lookups, run concurrently: on real AWS each one costs a round trip.

boto3 clients are thread-safe; Sessions.client() creates them under a lock. Results come back in the
order given, and errors are re-raised by the caller in that order, so output stays deterministic.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


def gather(*fns: Callable[[], Any]) -> list[tuple[Any, BaseException | None]]:
    """Run the lookups concurrently; each result is (value, None) or (None, the exception it raised)."""

    def safe(fn):
        try:
            return fn(), None
        except Exception as exc:  # re-raised by the caller, in a deterministic order
            return None, exc

    with ThreadPoolExecutor(max_workers=len(fns)) as pool:
        return list(pool.map(safe, fns))


def unwrap(pair: tuple[Any, BaseException | None]) -> Any:
    """The value of one gather() result, or raise its exception."""
    value, exc = pair
    if exc is not None:
        raise exc
    return value
