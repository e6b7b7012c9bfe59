"""Live progress (xacct_dataapi/progress.py): a setup whose endpoint stays pending for a while, recorded."""
from __future__ import annotations

import io
import re

from rich.console import Console

from tests.helpers.pipeline import plan_for, setup_runner
from tests.helpers.clock import FakeClock
from tests.steps.test_steps_moto import Deployment
from xacct_dataapi.durations import usual_text, wait_line
from xacct_dataapi.progress import ProgressReporter

PENDING_POLLS = 100  # deferred waits poll 1/32 of the time waited (0.1-0.5 s apart): ~82 polls reach the second plain line (15 s)


def pending_for(calls, polls: int) -> None:
    """moto makes an endpoint available at once; real AWS takes minutes. The first `polls` describes say pending."""
    seen = {"n": 0}

    def edit(parsed):
        seen["n"] += 1
        if seen["n"] <= polls:
            for ep in parsed.get("VpcEndpoints", []):
                ep["State"] = "pending"

    calls.edits["DescribeVpcEndpoints"] = edit


def run_setup(world, password, calls, console: Console, **kw) -> ProgressReporter:
    dep = Deployment(world, password)
    ctx, plan = plan_for(dep.cfg, password, dep.path)
    pending_for(calls, PENDING_POLLS)
    clock = FakeClock()
    progress = ProgressReporter(console, plan, clock=clock, **kw)
    runner = setup_runner(ctx, plan, dep.path, reporter=progress, sleep=clock.sleep, clock=clock, wait_timeout=240)
    with progress:
        runner.execute(plan)
    return progress


def test_a_pending_endpoint_shows_elapsed_usual_range_and_limit_in_plain_lines(world, password, calls):
    out = io.StringIO()
    progress = run_setup(world, password, calls, Console(file=out, width=80))  # a file: not a terminal
    assert progress.plain
    waits = [e for e in progress.events if "endpoint to become available" in e]
    assert waits, progress.events
    first, last = waits[0], waits[-1]
    assert "vpce-" in first and "now pending" in first and "usually 1–3 min" in first and "limit 4:00 (--wait-timeout)" in first
    assert last != first and last.split(": ")[1] != first.split(": ")[1]  # elapsed grows
    text = out.getvalue()
    # One paragraph per event (wrapped at spaces to the 80 columns, its continuation indented 2 more), nothing else.
    paragraphs = re.split(r"\n(?=\S|    \S)", text.rstrip("\n"))
    assert sorted(" ".join(p.split()) for p in paragraphs) == sorted(" ".join(e.split()) for e in progress.events)
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert text.count("\n") > len(progress.events)  # the wait lines name the endpoint, the usual range and the limit
    assert "\x1b[" not in text  # no terminal control codes when piped
    assert "[7] Security group and rds-data endpoint (consumer): running" in text
    assert "[7] Security group and rds-data endpoint (consumer): done in" in text


def test_each_step_is_pending_running_done_skipped_or_failed():
    from xacct_dataapi.models import Action, Plan, StepPlan

    clock = FakeClock()
    skipped = StepPlan(1, "kms_key", "KMS key", Action.NOOP, "key alias/xacct-x is as expected")
    step = StepPlan(5, "access_role", "Access role", Action.CREATE, "new", calls=[object()])
    progress = ProgressReporter(Console(file=io.StringIO(), width=80), Plan("setup", [skipped, step]), clock=clock)
    assert [r.status for r in progress.rows.values()] == ["skipped", "pending"]
    try:
        with progress:
            progress.step_started(step)
            clock.sleep(3)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert "[1] KMS key: skipped (key alias/xacct-x is as expected)" in progress.events
    assert progress.events[-1] == "[5] Access role: failed after 0:03"


def test_a_step_stopped_by_ctrl_c_or_sigterm_reads_interrupted_not_failed():
    """The trial: Ctrl-C mid-setup printed "[7] Security group ...: failed after 0:00" above "Error: Interrupted ...",
    so the step read as broken though its call finished and was recorded."""
    from xacct_dataapi.errors import Interrupted, Terminated
    from xacct_dataapi.models import Action, Plan, StepPlan

    for stop in (Interrupted("Interrupted: ..."), Terminated("Terminated: ..."), KeyboardInterrupt()):
        clock = FakeClock()
        step = StepPlan(5, "access_role", "Access role", Action.CREATE, "new", calls=[object()])
        progress = ProgressReporter(Console(file=io.StringIO(), width=80), Plan("setup", [step]), clock=clock)
        try:
            with progress:
                progress.step_started(step)
                clock.sleep(3)
                raise stop
        except (Interrupted, KeyboardInterrupt):
            pass
        assert progress.events[-1] == "[5] Access role: interrupted after 0:03", (stop, progress.events)
        assert [r.status for r in progress.rows.values()] == ["interrupted"]

def test_the_live_view_on_a_terminal_fits_80_columns():
    from xacct_dataapi.models import Action, Plan, StepPlan

    clock = FakeClock()
    step = StepPlan(7, "endpoint", "Security group and rds-data endpoint (consumer)", Action.CREATE, "new",
                    calls=[object()])
    console = Console(file=io.StringIO(), width=80, force_terminal=True)
    progress = ProgressReporter(console, Plan("setup", [step]), clock=clock, plain=False)
    progress.step_started(step)
    clock.sleep(42)
    progress.waiting("the rds-data endpoint to become available (vpce-0123456789abcdef0)", 42.0, 300.0)
    render = Console(file=io.StringIO(), width=80, record=True)
    render.print(progress._render())
    text = render.export_text()
    assert "running 0:42" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "waiting for the rds-data endpoint" in text


def test_usual_ranges():
    assert usual_text("the rds-data endpoint to become available") == "usually 1–3 min"
    assert usual_text("a new IAM principal is not yet visible") == "usually 2–15 s"
    assert usual_text("something unknown") is None
    assert wait_line("x", 62, None) == "x: 1:02"


def test_no_color_means_plain_lines_even_on_a_terminal(monkeypatch):
    from xacct_dataapi.progress import plain_terminal

    terminal = Console(file=io.StringIO(), force_terminal=True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert not plain_terminal(terminal)
    monkeypatch.setenv("NO_COLOR", "1")
    assert plain_terminal(terminal)


def test_teardown_reports_each_step_too(deployed):
    from tests.helpers.pipeline import apply_teardown

    progress = ProgressReporter(Console(file=io.StringIO(), width=80))  # apply_teardown plans for itself
    with progress:
        plan, _, _ = apply_teardown(deployed.path, reporter=progress, sleep=lambda s: None)
    # one row per planned step: the endpoint (deleted early) and its security group (late) are two
    assert [r.status for r in progress.rows.values()] == ["done"] * len(plan.steps), progress.rows
    assert sum(e.startswith("[7] Security group and rds-data endpoint (consumer): done in") for e in progress.events) == 2
