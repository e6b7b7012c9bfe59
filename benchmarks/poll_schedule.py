"""xacct's deferred-wait schedule against a fixed 0.5 s one: a fresh `xacct setup` at L ms per request, the schedules
interleaved run by run, each on a fresh sandbox, with the same drawn pending durations in each run.

Usage: .venv/bin/python benchmarks/poll_schedule.py [LATENCY_MS=100] [RUNS=10] [--fixed]   (prints figures)

- **1/32 of the wait** (xacct, waiting.wait_all): a round of polls starts every POLL_SHARE (1/32) of the time waited
  so far, at least DEFERRED_POLL_FLOOR (0.1 s) and at most 0.5 s apart.
- **1/16 of the wait, from 0.25 s** (xacct earlier on 2026-12-01).
- **0.5 s** (xacct before 2026-12-01): 0.25 s after the first round, then every 0.5 s.

The endpoint's pending time and the Data API's switch are drawn as in contenders.drawn_durations (4 s and 3 s,
± 0.5 s); `--fixed` keeps them at exactly 4 s and 3 s, which shows how a constant wait against a constant cadence
decides the overshoot by arithmetic. Requests are counted on the sandbox's side (polls included).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contenders  # noqa: E402
import harness  # noqa: E402

WRAPPER = """
import os, sys
from xacct_dataapi import waiting
waiting.POLL_SHARE, waiting.DEFERRED_POLL_FLOOR = (float(v) for v in os.environ["SCHEDULE"].split())
from xacct_dataapi.cli import main
sys.argv = ["xacct"] + sys.argv[1:]
main()
"""
SCHEDULES = {"1/32 of the wait (xacct)": (1 / 32, 0.1), "1/16 of the wait, from 0.25 s": (1 / 16, 0.25),
             "0.5 s (before)": (1e9, 0.25)}  # (POLL_SHARE, DEFERRED_POLL_FLOOR)


def main() -> None:
    from xacct_dataapi import waiting
    from xacct_dataapi.sandbox import Realism

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    latency_ms = float(args[0]) if args else 100.0
    runs = int(args[1]) if len(args) > 1 else 10
    fixed = "--fixed" in sys.argv
    assert (waiting.POLL_SHARE, waiting.DEFERRED_POLL_FLOOR) == SCHEDULES["1/32 of the wait (xacct)"], "update SCHEDULES"
    given = {"endpoint_pending_s": 4.0, "data_api_switch_s": 3.0}
    figures: dict = {k: [] for k in SCHEDULES}
    order = list(SCHEDULES)
    for i in range(runs):
        durations = given if fixed else contenders.drawn_durations(given, latency_ms, i)
        for label in order[i % len(order):] + order[:i % len(order)]:  # each schedule goes first in turn
            with tempfile.TemporaryDirectory(prefix="xacct-poll-") as tmp, \
                    harness.sandbox(Path(tmp), Realism(latency_ms=latency_ms, **durations)) as bench:
                argv = bench.xacct_setup("bench")
                bench.env.update(SCHEDULE=" ".join(repr(v) for v in SCHEDULES[label]))
                run = bench.run([sys.executable, "-c", WRAPPER, *argv[1:]])
                if run.returncode != 0:
                    raise SystemExit(f"setup failed:\n{run.stderr[-2000:]}")
                figures[label].append((run.wall, contenders.overshoot(run, bench.log.waits_end), run.reads))
    kind = "exactly 4 s / 3 s" if fixed else "drawn 4 ± 0.5 s / 3 ± 0.5 s"
    print(f"fresh xacct setup at {latency_ms:g} ms, {runs} runs per schedule, pending {kind}")
    print(f"  {'schedule':<32}{'wall s':>8}{'overshoot s':>13}{'(median)':>10}{'reads':>7}")
    print(f"  {'':<32}{'(mean)':>8}{'(mean)':>13}{'':>10}{'(mean)':>7}")
    for label in SCHEDULES:
        walls, overs, reads = zip(*figures[label])
        print(f"  {label:<32}{statistics.mean(walls):>8.2f}{statistics.mean(overs):>13.2f}"
              f"{statistics.median(overs):>10.2f}{statistics.mean(reads):>7.1f}")


if __name__ == "__main__":
    main()
