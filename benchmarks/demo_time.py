"""How long `xacct demo` takes, end to end and per phase (the issue's budget: under 15 s on 2 cores).

Usage: .venv/bin/python benchmarks/demo_time.py [RUNS]   (prints figures; asserts nothing)
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    exe = Path(sys.executable).with_name("xacct")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "XACCT_"))}
    walls, phases = [], {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = subprocess.run([str(exe), "demo", "--output", "json"], cwd=tmp, env=env, capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            if res.returncode != 0:
                print(res.stderr[-2000:])
                sys.exit(1)
            for p in json.loads(res.stdout)["phases"]:
                phases.setdefault(p["name"], []).append(p["seconds"])
    print(f"xacct demo, {runs} runs, {os.cpu_count()} cores")
    print(f"  wall clock (process start to exit): median {statistics.median(walls):.2f}s  min {min(walls):.2f}s  max {max(walls):.2f}s")
    for name, values in phases.items():
        print(f"  {name:<46} median {statistics.median(values):.2f}s")


if __name__ == "__main__":
    main()
