"""Cold start: `xacct --help` against `python -c "import boto3"` (the issue's target: ≤ 1.1×), whole processes.

Usage: .venv/bin/python benchmarks/startup.py [RUNS]   (prints figures; asserts nothing)

The two commands run in turn (A B A B ...) after one warm-up each, so a machine whose speed drifts slows both;
the ratio is taken pair by pair and its median printed, with each command's median wall time.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    xacct = [str(Path(sys.executable).with_name("xacct")), "--help"]
    boto3 = [sys.executable, "-c", "import boto3"]
    wall(xacct), wall(boto3)  # warm-up: file cache, .pyc files
    a, b = [], []
    for _ in range(runs):
        a.append(wall(xacct))
        b.append(wall(boto3))
    ratios = [x / y for x, y in zip(a, b)]
    print(f"start-up, {runs} interleaved runs, {os.cpu_count()} cores (medians; min-max in brackets)")
    print(f"  xacct --help                    {statistics.median(a) * 1000:6.0f} ms  [{min(a) * 1000:.0f}-{max(a) * 1000:.0f}]")
    print(f"  python -c 'import boto3'        {statistics.median(b) * 1000:6.0f} ms  [{min(b) * 1000:.0f}-{max(b) * 1000:.0f}]")
    print(f"  ratio xacct/boto3, pair by pair {statistics.median(ratios):6.2f}×    "
          f"[{min(ratios):.2f}-{max(ratios):.2f}]   (target ≤ 1.1×)")


if __name__ == "__main__":
    main()
