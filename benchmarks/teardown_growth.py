"""Requests made by `xacct teardown` of the deployment that turned the cluster's Data API on, with 0, 5 and 20 other
xacct deployments on the same cluster (same VPC: they join the one rds-data endpoint), by operation.

Usage: .venv/bin/python benchmarks/teardown_growth.py [OTHERS ...] [--json]   (default 0 5 20; prints figures)

For each count a fresh sandbox (no latency, no pending durations): `xacct setup --name target` (a process; it turns
the Data API on), then the other deployments with xacct's own setup in this process (app.setup: the same code,
without a process start each), then `xacct teardown --name target` as a process, whose requests the server counts.
Takes about 1 minute for 0, 5 and 20.
"""
from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


def make_others(bench: harness.Bench, count: int) -> None:
    set_up(bench, [f"other{i}" for i in range(count)])


def set_up(bench: harness.Bench, names: list[str]) -> None:
    """Each of `names` set up by xacct's own code in this process (app.setup), in the sandbox's VPC and cluster."""
    from rich.console import Console

    from xacct_dataapi import app
    from xacct_dataapi.config import Config, state_path_for
    from xacct_dataapi.demo import sandbox_environment
    from xacct_dataapi.terminal import Terminal

    quiet = Console(file=open("/dev/null", "w"))
    ui = Terminal(out=quiet, err=quiet, yes=True)
    info = bench.info
    with sandbox_environment(info.env()):
        for name in names:
            cfg = Config(name=name, consumer_profile=info.consumer_profile, provider_profile=info.provider_profile,
                         cluster=info.cluster_id, vpc_id=info.vpc_id, subnet_ids=tuple(info.subnet_ids),
                         region=info.region, enable_data_api=True)
            app.setup(cfg, state_path_for(cfg.name, bench.work), ui, dry_run=False, password_from_stdin=False,
                      password=lambda: harness.PASSWORD)


def measure(counts: list[int]) -> list[dict]:
    from xacct_dataapi.sandbox import Realism

    rows = []
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="xacct-growth-") as tmp, harness.sandbox(Path(tmp), Realism()) as bench:
            for argv in (bench.xacct_setup("target"),):
                run = bench.run(argv)
                if run.returncode:
                    raise SystemExit(f"setup failed:\n{run.stderr[-3000:]}")
            make_others(bench, count)
            run = bench.run(bench.xacct("teardown", "--name", "target", "--yes"))
            if run.returncode:
                raise SystemExit(f"teardown failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
            rows.append({"others": count, "wall_s": run.wall, "reads": run.reads, "writes": run.writes,
                         "by_op": dict(Counter(f"{r.service}:{r.op}" for r in run.requests))})
    return rows


def table(rows: list[dict]) -> str:
    ops = sorted({op for r in rows for op in r["by_op"]}, key=lambda op: (op.split(":")[0], op))
    head = "".join(f"{r['others']:>7}" for r in rows)
    lines = [f"  {'other deployments on the cluster':<48}{head}",
             f"  {'requests (reads/writes)':<48}" + "".join(f"{str(r['reads']) + '/' + str(r['writes']):>7}" for r in rows),
             f"  {'wall s (no latency)':<48}" + "".join(f"{r['wall_s']:>7.2f}" for r in rows)]
    for op in ops:
        counts = [r["by_op"].get(op, 0) for r in rows]
        # grows: more with 20 others than with 5; differs: only "none" vs "some" (e.g. leaving a shared endpoint).
        grows = "  ← grows" if len(counts) > 2 and counts[-1] > counts[-2] else ("  (differs)" if len(set(counts)) > 1 else "")
        lines.append(f"    {op:<46}" + "".join(f"{c:>7}" for c in counts) + grows)
    return "\n".join(lines)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--json"]
    rows = measure([int(a) for a in args] or [0, 5, 20])
    if "--json" in sys.argv:
        print(json.dumps(rows))
        return
    print("xacct teardown of the deployment that turned the Data API on, by the number of other deployments")
    print(table(rows))


if __name__ == "__main__":
    main()
