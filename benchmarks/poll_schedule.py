"""xacct's deferred-wait schedule against the one it replaced: a fresh `xacct setup` at L ms per request, the two
schedules interleaved run by run, each on a fresh sandbox, with the same drawn pending durations per pair.

Usage: .venv/bin/python benchmarks/poll_schedule.py [LATENCY_MS=100] [PAIRS=10] [--fixed]   (prints figures)

- **rounds every interval** (xacct, waiting.wait_all): a round of polls starts every 0.5 s at the cap, whatever
  its round trip took.
- **sleep after each round** (before 2026-12-01): the next round started 0.5 s after the previous one *ended*,
  i.e. every 0.5 s plus a round trip.

The endpoint's pending time and the Data API's switch are drawn as in contenders.drawn_durations (4 s and 3 s,
± 0.5 s); `--fixed` keeps them at exactly 4 s and 3 s, which shows how a constant wait against a constant cadence
decides the overshoot by arithmetic (whichever schedule happens to line up wins every run).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contenders  # noqa: E402
import harness  # noqa: E402

# The replaced schedule, installed in the xacct process by the wrapper below (variant "after").
SLEEP_AFTER_EACH_ROUND = """
from xacct_dataapi import runner, waiting

def wait_all(probes, *, timeout, timing=None, cap=waiting.DEFERRED_POLL_CAP):
    t = timing or waiting.Timing()
    delay, left = min(t.poll_first, cap, t.poll_cap), list(probes)
    while left:
        results = waiting.gather(*(lambda p=p: p.guard(p.refresh) for p in left)) if len(left) > 1 else None
        for n, p in enumerate(list(left)):
            state = waiting.unwrap(results[n]) if results is not None else p.guard(p.refresh)
            if state in p.target:
                left.remove(p)
        if left:
            t.sleep(delay)
            delay = min(delay * t.poll_factor, cap, t.poll_cap)

runner.wait_all = waiting.wait_all = wait_all
"""
WRAPPER = """
import os, sys
if os.environ.get("SCHEDULE") == "after":
    exec(os.environ["SCHEDULE_CODE"])
from xacct_dataapi.cli import main
sys.argv = ["xacct"] + sys.argv[1:]
main()
"""
LABELS = {"every": "rounds every interval (xacct)", "after": "sleep after each round (before)"}


def main() -> None:
    from xacct_dataapi.sandbox import Realism

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    latency_ms = float(args[0]) if args else 100.0
    pairs = int(args[1]) if len(args) > 1 else 10
    fixed = "--fixed" in sys.argv
    given = {"endpoint_pending_s": 4.0, "data_api_switch_s": 3.0}
    figures: dict = {k: [] for k in LABELS}
    for i in range(pairs):
        durations = given if fixed else contenders.drawn_durations(given, latency_ms, i)
        for schedule in (("every", "after") if i % 2 == 0 else ("after", "every")):
            with tempfile.TemporaryDirectory(prefix="xacct-poll-") as tmp, \
                    harness.sandbox(Path(tmp), Realism(latency_ms=latency_ms, **durations)) as bench:
                argv = bench.xacct_setup("bench")
                bench.env.update(SCHEDULE=schedule, SCHEDULE_CODE=SLEEP_AFTER_EACH_ROUND)
                run = bench.run([sys.executable, "-c", WRAPPER, *argv[1:]])
                if run.returncode != 0:
                    raise SystemExit(f"setup failed:\n{run.stderr[-2000:]}")
                figures[schedule].append((run.wall, contenders.overshoot(run, bench.log.waits_end)))
    kind = "exactly 4 s / 3 s" if fixed else "drawn 4 ± 0.5 s / 3 ± 0.5 s"
    print(f"fresh xacct setup at {latency_ms:g} ms, {pairs} runs per schedule, pending {kind}")
    print(f"  {'schedule':<34}{'wall s (mean)':>14}{'overshoot s (mean)':>20}{'(median)':>10}")
    for key, label in LABELS.items():
        walls, overs = [w for w, _ in figures[key]], [o for _, o in figures[key]]
        print(f"  {label:<34}{statistics.mean(walls):>14.2f}{statistics.mean(overs):>20.2f}"
              f"{statistics.median(overs):>10.2f}")


if __name__ == "__main__":
    main()
