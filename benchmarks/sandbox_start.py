"""What the sandbox's PostgreSQL costs: start and stop of a sandbox with aurora-mysql (no database behind it) and
with aurora-postgresql (a real PostgreSQL, sandbox/database.py), alternately, in this process.

Usage: .venv/bin/python benchmarks/sandbox_start.py [RUNS]   (prints figures; asserts nothing)
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from xacct_dataapi.sandbox import Sandbox


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    times: dict[str, list[tuple[float, float]]] = {"aurora-mysql": [], "aurora-postgresql": []}
    for _ in range(runs):
        for engine, seen in times.items():
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                sandbox = Sandbox(Path(d) / "sandbox", engine=engine)
                sandbox.start()
                t1 = time.perf_counter()
                sandbox.stop()
                seen.append((t1 - t0, time.perf_counter() - t1))
    for engine, seen in times.items():
        starts, stops = [s for s, _ in seen], [s for _, s in seen]
        print(f"{engine:18} start median {statistics.median(starts):.2f}s (min {min(starts):.2f}s), "
              f"stop median {statistics.median(stops):.2f}s over {runs} runs")


if __name__ == "__main__":
    main()
