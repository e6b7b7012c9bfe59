"""Requests and wall time of one deployment's commands when N-1 other deployments share its VPC, accounts and
cluster (issue 27): setup of the N-th member, status, verify, doctor, list, list --refresh and teardown, at 100 ms
latency per request.

Usage: .venv/bin/python benchmarks/scale.py [N ...] [--json]   (default 1 50 500; 500 takes a few minutes)

For each N a fresh sandbox: the N-1 others are seeded without latency (benchmarks/seeding.py: two set up by xacct's
own code in this process, the rest copies of the second one's AWS-side facts and state file), then the sandbox's
latency goes to 100 ms and `xacct setup --name target` (the N-th member), `xacct status`, `verify`, `doctor`, `list`,
`list --refresh` and `teardown` run as processes whose requests the server counts. The per-deployment commands
should make the same requests whatever N (paging aside: a DescribeSecurityGroups page holds 1,000 member groups);
`list` reads the state files alone, `list --refresh` one round of paged listing calls per pair of accounts, plus one
ListRoleTags and one ListUserTags per deployment (whose each role and user named like xacct's is; IAM lists no tags).
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from seeding import seed_members  # noqa: E402

LATENCY_MS = 100.0


def commands(bench: harness.Bench) -> list[tuple[str, list[str]]]:
    return [("setup of the N-th", bench.xacct_setup("target")),
            ("status", bench.xacct("status", "--name", "target")),
            ("verify", bench.xacct("verify", "--name", "target")),
            ("doctor", bench.xacct("doctor", "--name", "target")),
            ("list", bench.xacct("list")),
            ("list --refresh", bench.xacct("list", "--refresh")),
            ("teardown", bench.xacct("teardown", "--name", "target", "--yes"))]


COMMANDS = ("setup of the N-th", "status", "verify", "doctor", "list", "list --refresh", "teardown")


def measure(counts: list[int]) -> list[dict]:
    from xacct_dataapi.sandbox import Realism
    from xacct_dataapi.sandbox import realism as layer

    rows = []
    for n in counts:
        with tempfile.TemporaryDirectory(prefix="xacct-scale-") as tmp, harness.sandbox(Path(tmp), Realism()) as bench:
            t0 = time.monotonic()
            seed_members(bench, n - 1)
            row: dict = {"n": n, "seeding_s": round(time.monotonic() - t0, 1)}
            # verify signs in as the database user: the password the sandbox seeded its PostgreSQL with.
            bench.env["XACCT_DB_PASSWORD"] = bench.info.db_password() or harness.PASSWORD
            layer._world_now().realism = Realism(latency_ms=LATENCY_MS)
            for what, argv in commands(bench):
                run = bench.run(argv)
                if run.returncode != 0:
                    raise SystemExit(f"{what} failed with N={n}:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
                row[what] = {"wall_s": round(run.wall, 2), "requests": len(run.requests), "reads": run.reads,
                             "writes": run.writes, "exit": run.returncode,
                             "by_op": dict(Counter(f"{r.service}:{r.op}" for r in run.requests)),
                             # the server's own time beyond the latency (moto's work), by operation
                             "server_s_by_op": server_time(run.requests)}
            rows.append(row)
    return rows


def server_time(requests) -> dict[str, float]:
    spent: Counter = Counter()
    for r in requests:
        spent[f"{r.service}:{r.op}"] += max(0.0, r.end - r.start - LATENCY_MS / 1000)
    return {op: round(t, 2) for op, t in spent.most_common()}


def table(rows: list[dict]) -> str:
    head = "".join(f"{'N=' + str(r['n']):>18}" for r in rows)
    lines = [f"  {'at 100 ms a request':<20}{head}", f"  {'':<20}" + "".join(f"{'requests  wall s':>18}" for _ in rows)]
    for what in COMMANDS:
        lines.append(f"  {what:<20}" + "".join(f"{r[what]['requests']:>10}{r[what]['wall_s']:>8.1f}" for r in rows))
    lines.append("  operations whose count differs with N:")
    for what in COMMANDS:
        for op in sorted({op for r in rows for op in r[what]["by_op"]}):
            counts = [r[what]["by_op"].get(op, 0) for r in rows]
            if len(set(counts)) > 1:
                lines.append(f"    {what + ': ' + op:<48}" + "".join(f"{c:>7}" for c in counts))
    lines.append(f"  {'seeding the others (s, no latency)':<52}" + "".join(f"{r['seeding_s']:>7.0f}" for r in rows))
    lines.append("  the sandbox's own time beyond the latency (s), its three largest operations at the last N:")
    for what in COMMANDS:
        spent = rows[-1][what].get("server_s_by_op", {})
        top = ", ".join(f"{op.split(':')[1]} {t:.1f}" for op, t in list(spent.items())[:3])
        lines.append(f"    {what:<20}" + "".join(f"{sum(r[what].get('server_s_by_op', {}).values()):>7.1f}"
                                                  for r in rows) + f"  {top}")
    return "\n".join(lines)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--json"]
    rows = measure([int(a) for a in args] or [1, 50, 500])
    if "--json" in sys.argv:
        print(json.dumps(rows))
        return
    print("One deployment's commands with N-1 others in the same VPC, accounts and cluster")
    print(table(rows))


if __name__ == "__main__":
    main()
