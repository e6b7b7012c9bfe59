"""Requests of `teardown` of the deployment that turned the cluster's Data API on, per account and operation, with
N other deployments on the same cluster (issue 12: they must not grow with N). In-process moto, one fresh world
per N (tests/helpers/counting.py).

Usage: .venv/bin/python benchmarks/teardown_requests.py [N ...]   (default: 0 5 20; prints a table, asserts nothing)
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.helpers, run from anywhere

from tests.helpers.counting import teardown_requests  # noqa: E402


def main(ns: list[int]) -> None:
    results = {}
    for n in ns:
        with tempfile.TemporaryDirectory(prefix="xacct-teardown-requests-") as d, pytest.MonkeyPatch.context() as mp:
            results[n] = teardown_requests(Path(d), n, mp)
    operations = sorted({op for counts, _ in results.values() for op in counts})
    print("| operation | " + " | ".join(f"{n} others" for n in ns) + " |")
    print("|---|" + "---:|" * len(ns))
    for op in operations:
        print(f"| {op} | " + " | ".join(str(results[n][0][op]) for n in ns) + " |")
    print("| **total** | " + " | ".join(f"**{sum(results[n][0].values())}**" for n in ns) + " |")
    print("| Data API on after | " + " | ".join("yes" if results[n][1] else "no" for n in ns) + " |")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [0, 5, 20])
