"""Requests and wall time of one deployment's commands when N-1 other deployments share its VPC, accounts and
cluster (issue 27): setup of the N-th member, status, list and teardown, at 100 ms latency per request.

Usage: .venv/bin/python benchmarks/scale.py [N ...] [--json]   (default 1 50; 500 takes tens of minutes)

For each N a fresh sandbox: the N-1 others are set up in this process without latency (app.setup: xacct's own code,
without a process start each; they join the VPC's one rds-data endpoint), then the sandbox's latency goes to 100 ms
and `xacct setup --name target` (the N-th member), `xacct status`, `xacct list` and `xacct teardown` run as processes
whose requests the server counts. The per-deployment commands should make the same requests whatever N (paging
aside: a DescribeSecurityGroups page holds 1,000 member groups); `list` reads the state files alone.
"""
from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from teardown_growth import make_others  # noqa: E402

LATENCY_MS = 100.0


def commands(bench: harness.Bench) -> list[tuple[str, list[str]]]:
    return [("setup of the N-th", bench.xacct_setup("target")),
            ("status", bench.xacct("status", "--name", "target")),
            ("list", bench.xacct("list")),
            ("teardown", bench.xacct("teardown", "--name", "target", "--yes"))]


def measure(counts: list[int]) -> list[dict]:
    from xacct_dataapi.sandbox import Realism
    from xacct_dataapi.sandbox import realism as layer

    rows = []
    for n in counts:
        with tempfile.TemporaryDirectory(prefix="xacct-scale-") as tmp, harness.sandbox(Path(tmp), Realism()) as bench:
            make_others(bench, n - 1)
            layer._world_now().realism = Realism(latency_ms=LATENCY_MS)
            row: dict = {"n": n}
            for what, argv in commands(bench):
                run = bench.run(argv)
                if run.returncode not in (0,) and what != "status":
                    raise SystemExit(f"{what} failed with N={n}:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
                row[what] = {"wall_s": round(run.wall, 2), "requests": len(run.requests), "reads": run.reads,
                             "writes": run.writes, "exit": run.returncode,
                             "by_op": dict(Counter(f"{r.service}:{r.op}" for r in run.requests))}
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    head = "".join(f"{'N=' + str(r['n']):>16}" for r in rows)
    lines = [f"  {'at 100 ms a request':<22}{head}", f"  {'':<22}" + "".join(f"{'requests  wall s':>16}" for _ in rows)]
    for what in ("setup of the N-th", "status", "list", "teardown"):
        lines.append(f"  {what:<22}" + "".join(f"{r[what]['requests']:>8}{r[what]['wall_s']:>8.1f}" for r in rows))
    ops = sorted({op for r in rows for what in ("setup of the N-th", "teardown") for op in r[what]["by_op"]})
    differing = [op for op in ops if len({r[w]["by_op"].get(op, 0) for r in rows for w in ("setup of the N-th",)}) > 1
                 or len({r["teardown"]["by_op"].get(op, 0) for r in rows}) > 1]
    if differing:
        lines.append("  operations whose count differs with N (setup / teardown):")
        for op in differing:
            lines.append(f"    {op:<40}" + "".join(
                f"{r['setup of the N-th']['by_op'].get(op, 0):>7}/{r['teardown']['by_op'].get(op, 0):<8}" for r in rows))
    return "\n".join(lines)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--json"]
    rows = measure([int(a) for a in args] or [1, 50])
    if "--json" in sys.argv:
        print(json.dumps(rows))
        return
    print("One deployment's commands with N-1 others in the same VPC, accounts and cluster")
    print(table(rows))


if __name__ == "__main__":
    main()
