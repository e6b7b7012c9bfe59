"""`make bench`: every benchmark's figures in one run, side by side. Prints figures; asserts nothing.

Usage: .venv/bin/python benchmarks/bench.py [LATENCIES_MS ...] [--endpoint-s 4] [--data-api-s 3] [--runs 1]
         [--timeline] [--no-growth] [--in-process]     (default latencies 0 60 100; 3-4 minutes on 2 cores)

1. start-up: `xacct --help` against `python -c "import boto3"` (benchmarks/startup.py), interleaved runs (~15 s);
2. per command, xacct against the straight-line script and the floor (benchmarks/contenders.py, one process per
   latency, ~40-60 s each): every command of every contender is its own process against a fresh sandbox that adds
   the latency to every request on the server side, keeps a new endpoint pending 4 s and takes 3 s to switch the
   Data API; wall time, requests (reads/writes) counted by the server, the ratios, and the wait overshoot;
3. requests of `xacct teardown` with 0, 5 and 20 other deployments on the cluster (benchmarks/teardown_growth.py,
   ~65 s; --no-growth skips it).

--timeline: also the server's per-request timeline of each xacct command and of the floor's setup, at the highest
latency. --in-process: also the older in-process figures (benchmarks/simulated_latency.py). docs/benchmarks.md
explains the contenders and how to read the ratios.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import contenders  # noqa: E402
import harness  # noqa: E402
import teardown_growth  # noqa: E402


def run_json(argv: list[str]):
    res = subprocess.run([sys.executable, *argv], capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-2000:] + res.stderr[-4000:])
        raise SystemExit(f"{' '.join(argv)} failed (exit {res.returncode})")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("latencies", nargs="*", type=float, default=[0, 60, 100])
    p.add_argument("--endpoint-s", type=float, default=4.0)
    p.add_argument("--data-api-s", type=float, default=3.0)
    p.add_argument("--runs", type=int, default=1, help="runs per contender and latency; medians (default 1)")
    p.add_argument("--timeline", action="store_true")
    p.add_argument("--no-growth", action="store_true")
    p.add_argument("--in-process", action="store_true")
    a = p.parse_args()
    t_start = time.perf_counter()
    harness.compiled_like_an_install()  # before start-up is timed too

    subprocess.run([sys.executable, str(HERE / "startup.py")], check=True)

    results = []
    for ms in a.latencies:
        argv = [str(HERE / "contenders.py"), str(ms), "--json", "--endpoint-s", str(a.endpoint_s),
                "--data-api-s", str(a.data_api_s), "--runs", str(a.runs)]
        if a.timeline and ms == max(a.latencies):
            argv.append("--timeline")
        results.append(run_json(argv))
    print()
    runs = "one run each" if a.runs == 1 else f"medians of {a.runs} runs; a ratio is the median of the runs' ratios"
    print(textwrap.fill(
        f"per command, one process each ({runs}), against a fresh sandbox: L ms per request (server side), a new "
        f"endpoint pending {a.endpoint_s:g} s, the Data API switching in {a.data_api_s:g} s (each ± 0.5 s, drawn per "
        "run, the same for every contender of a run). line = benchmarks/straight_line.py, floor = "
        "benchmarks/floor.py; requests counted by the server, STS included.", width=88))
    print(contenders.table(results))
    print("targets: setup and teardown ≤ 1.3× line; at L=100: fresh setup ≤ 1.1× floor,\n"
          "no-op re-run and status ≤ 1.3× floor, wait overshoot ≤ 1 s.")

    if not a.no_growth:
        rows = run_json([str(HERE / "teardown_growth.py"), "--json"])
        print()
        print("xacct teardown of the deployment that turned the Data API on, by other deployments on the cluster")
        print(teardown_growth.table(rows))
        print("target: teardown requests do not grow with other deployments.")

    if a.in_process:
        print()
        print("in-process (benchmarks/simulated_latency.py; client-side latency, no process start)")
        for ms in a.latencies:
            r = run_json([str(HERE / "simulated_latency.py"), str(int(ms)), "--json"])
            print(f"  {r['latency_ms']:>4.0f} ms  fresh setup {r['setup_s']:.2f} s ({r['setup_requests']} requests, "
                  f"{r['overshoot_s']:.2f} s after the waits)  no-op re-run {r['rerun_s']:.2f} s "
                  f"({r['rerun_requests']} requests)")

    for res in results:
        for key, text in res.get("timelines", {}).items():
            if key.startswith("xacct") or key == "floor setup":
                print(f"\n{key} at L={res['latency_ms']:g} ms, per request as the server saw it:\n{text}")

    print(f"\n(bench took {time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
