"""Live progress of a setup or teardown: each step pending / running (elapsed) / done / skipped (reason) / failed,
and each wait with what it waits for, the time so far, the usual range on AWS (durations.py) and the limit.

A rich Live view on a terminal; one plain line per event when piped, on a dumb terminal, or with NO_COLOR (a wait
prints its first poll, then at most one line per PLAIN_WAIT_EVERY seconds), wrapped at spaces to the width with its
continuation indented (an id stays whole)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from xacct_dataapi.durations import clock as fmt_clock, wait_line
from xacct_dataapi.errors import Interrupted, TerminationSignal
from xacct_dataapi.hooks import Reporter
from xacct_dataapi.layout import Prose
from xacct_dataapi.models import Plan, PlanItem, StepPlan, kept_for_others

PLAIN_WAIT_EVERY = 15.0
MARK = {"pending": ("·", "dim"), "running": ("…", "cyan"), "done": ("✓", "green"), "skipped": ("–", "dim"),
        "failed": ("✗", "red"), "interrupted": ("✗", "yellow")}


@dataclass
class _Row:
    step: StepPlan
    status: str = "pending"
    started: float | None = None
    ended: float | None = None
    detail: str = ""

    @property
    def label(self) -> str:
        return f"[{self.step.number}] {self.step.title}" if self.step.number else self.step.title


def plain_terminal(console: Console) -> bool:
    return not console.is_terminal or console.is_dumb_terminal or "NO_COLOR" in os.environ


@dataclass
class ProgressReporter(Reporter):
    console: Console
    plan: Plan | None = None
    clock: Callable[[], float] = time.monotonic
    plain: bool | None = None  # None: decide from the console and NO_COLOR
    rows: dict = field(default_factory=dict)
    events: list = field(default_factory=list)  # every line-worthy event, as printed in plain mode (for tests)
    _wait: str = ""
    _printed_wait: dict = field(default_factory=dict)
    _live: Live | None = None

    def __post_init__(self):
        if self.plain is None:
            self.plain = plain_terminal(self.console)
        for s in self.plan.steps if self.plan is not None else ():
            # By the StepPlan itself: a teardown lists a step twice (the endpoint early, its security group late).
            self.rows[id(s)] = _Row(s, "pending" if s.calls else "skipped", detail="" if s.calls else s.reason)

    # The context manager is what app uses: it starts the live view and marks a step failed if the run raises.
    def __enter__(self) -> ProgressReporter:
        if all(row.status == "skipped" for row in self.rows.values()):
            return self  # nothing runs: the plan above already gave every step's reason
        for row in self.rows.values():
            if row.status == "skipped":
                self._line(f"{row.label}: skipped ({row.detail})")
        if not self.plain:
            self._live = Live(get_renderable=self._render, console=self.console, refresh_per_second=4, transient=False)
            self._live.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        for row in self.rows.values():
            if row.status == "running":
                # Ctrl-C or SIGTERM stops a step that did not fail: saying "failed" sent the trial looking for an error.
                stopped = isinstance(exc, (Interrupted, KeyboardInterrupt, TerminationSignal))
                row.status, row.ended = "interrupted" if stopped else "failed", self.clock()
                row.detail = getattr(exc, "message", None) or (type(exc).__name__ if exc else "stopped")
                self._line(f"{row.label}: {row.status} after {fmt_clock(row.ended - row.started)}")
        self._wait = ""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _row(self, step: StepPlan) -> _Row:
        return self.rows.setdefault(id(step), _Row(step))

    def _line(self, text: str) -> None:
        self.events.append(text)
        if self.plain:  # one paragraph per event, wrapped at spaces (ids whole), its continuation indented
            self.console.print(Prose(text, hang=2), soft_wrap=True)

    def step_started(self, step: StepPlan) -> None:
        row = self._row(step)
        row.status, row.started = "running", self.clock()
        self._line(f"{row.label}: running")

    def call_done(self, step: StepPlan, call: PlanItem, changed: bool = True, why: str | None = None) -> None:
        self._row(step).detail = call.description
        # The two accounts' steps run at once, so their lines interleave: each names its step.
        which = f"[{step.number}]" if step.number else "[Data API]"
        if changed or not call.changes_aws:
            self._line(f"    ✓ {which} {call.description}")
        elif kept_for_others(why) is not None:  # a shared resource other deployments still use: not gone
            self._line(f"    · {which} {call.description}: kept for other deployments ({kept_for_others(why)})")
        else:
            self._line(f"    · {which} {call.description}: nothing to do (already done or already gone)")

    def waiting(self, what: str, elapsed: float | None = None, limit: float | None = None) -> None:
        if elapsed is None:  # a note about the run, not a wait
            self._line(f"    · {what}")
            if not self.plain:
                self.console.print(Prose(f"    · {what}", hang=2), soft_wrap=True)
            return
        self._wait = "waiting for " + wait_line(what, elapsed, limit)
        last = self._printed_wait.get(what)
        if last is None or elapsed - last >= PLAIN_WAIT_EVERY:
            self._printed_wait[what] = elapsed
            self._line(f"    {self._wait}")

    def step_done(self, step: StepPlan) -> None:
        row = self._row(step)
        row.status, row.ended, self._wait = "done", self.clock(), ""
        self._line(f"{row.label}: done in {fmt_clock(row.ended - row.started)}")

    def _render(self) -> Group:
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True, overflow="ellipsis", ratio=3)  # the step title: most of an 80-column line
        table.add_column(overflow="ellipsis", no_wrap=True, ratio=2)  # its status, elapsed and reason
        now = self.clock()
        for row in self.rows.values():
            mark, style = MARK[row.status]
            if row.status in ("running", "done", "failed", "interrupted") and row.started is not None:
                status = f"{row.status} {fmt_clock((row.ended or now) - row.started)}"
            else:
                status = row.status
            if row.detail and row.status in ("skipped", "failed", "running"):
                status += f" ({row.detail})"
            table.add_row(Text(mark, style=style), row.label, Text(status, style=style))
        parts = [table]
        if self._wait:
            parts.append(Text(self._wait, style="yellow"))  # wraps: the elapsed time, usual range and limit come last
        return Group(*parts)
