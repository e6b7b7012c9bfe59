"""`make bench`: every benchmark's figures in one run, side by side. Prints figures; asserts nothing.

Usage: .venv/bin/python benchmarks/bench.py [LATENCIES_MS ...]   (default 0 60 100)

- start-up: `xacct --help` against `python -c "import boto3"` (benchmarks/startup.py), interleaved runs;
- setup under simulated latency (benchmarks/simulated_latency.py, each latency in its own process): a fresh setup
  and a no-op re-run, with the endpoint pending 4 s and the Data API switching in 3 s. "after waits" is how long
  setup ran on once both simulated waits were over: the poll overshoot plus the last state save (target ≤ 1 s).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    latencies = [int(a) for a in sys.argv[1:]] or [0, 60, 100]
    subprocess.run([sys.executable, str(HERE / "startup.py")], check=True)
    rows = []
    for ms in latencies:
        out = subprocess.run([sys.executable, str(HERE / "simulated_latency.py"), str(ms), "--json"], check=True,
                             capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print()
    print("setup against the sandbox, simulated latency (endpoint pending 4 s, Data API switching 3 s), one run each")
    print(f"  {'latency':>8}  {'fresh setup':>11}  {'requests':>8}  {'after waits':>11}  "
          f"{'no-op re-run':>12}  {'requests':>8}")
    for r in rows:
        print(f"  {r['latency_ms']:>6.0f}ms  {r['setup_s']:>10.2f}s  {r['setup_requests']:>8}  {r['overshoot_s']:>10.2f}s  "
              f"{r['rerun_s']:>11.2f}s  {r['rerun_requests']:>8}")


if __name__ == "__main__":
    main()
