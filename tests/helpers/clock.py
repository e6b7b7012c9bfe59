"""A fake monotonic clock that moves only when code sleeps: deadlines are reached without real waiting."""
from __future__ import annotations

from xacct_dataapi.waiting import Timing


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def timing(self, **kw) -> Timing:
        """waiting.Timing driven by this clock."""
        return Timing(clock=self.clock, sleep=self.sleep, **kw)
