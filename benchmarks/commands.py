"""Time and AWS request count of each command against the local sandbox (moto server on 127.0.0.1).

Usage: .venv/bin/python benchmarks/commands.py [RUNS]   (prints figures; asserts nothing)

Requests are counted with a botocore `before-send` hook on every client xacct creates, split into
reads (Describe/Get/List) and writes. Against real AWS the times are dominated by latency (~20-80 ms a
request) and by AWS-side waits (endpoint availability, IAM propagation), so the request counts are the
figure that carries over.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rich.console import Console

from xacct_dataapi import aws as aws_mod
from xacct_dataapi import app
from xacct_dataapi.config import Config
from xacct_dataapi.demo import sandbox_environment
from xacct_dataapi.sandbox import Sandbox
from xacct_dataapi.terminal import Terminal

COUNTS: Counter = Counter()
_original_client = aws_mod.Sessions.client


def counting_client(self, account, service):
    client = _original_client(self, account, service)
    if not getattr(client, "_xacct_counted", False):
        def count(request, **kwargs):
            op = kwargs.get("event_name", "").split(".")[-1]
            COUNTS["read" if op.startswith(("Describe", "Get", "List")) else "write"] += 1
        client.meta.events.register("before-send.*.*", count)
        client._xacct_counted = True
    return client


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    aws_mod.Sessions.client = counting_client
    quiet = Console(file=open("/dev/null", "w"))
    ui = Terminal(out=quiet, err=quiet, yes=True)
    results: dict[str, list[tuple[float, int, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with Sandbox(Path(tmp) / "sb") as sb:
            info = sb.start() if not sb.running else sb.info
            with sandbox_environment(info.env()):
                for i in range(runs):
                    cfg = Config(name=f"bench{i}", consumer_profile=info.consumer_profile,
                                 provider_profile=info.provider_profile, cluster=info.cluster_id, vpc_id=info.vpc_id,
                                 subnet_ids=tuple(info.subnet_ids), region=info.region, enable_data_api=True)
                    path = Path(tmp) / f"bench{i}.json"
                    phases = (
                        ("setup (fresh)", lambda: app.setup(cfg, path, ui, dry_run=False, password_from_stdin=False,
                                                             password=lambda: "bench-Passw0rd")),
                        ("setup (re-run, no-op)", lambda: app.setup(cfg, path, ui, dry_run=False, password_from_stdin=False)),
                        ("status", lambda: app.status(path)),
                        ("teardown", lambda: app.teardown(path, ui)),
                    )
                    for name, fn in phases:
                        COUNTS.clear()
                        t0 = time.perf_counter()
                        fn()
                        results.setdefault(name, []).append((time.perf_counter() - t0, COUNTS["read"], COUNTS["write"]))
    print(f"xacct commands against the local sandbox, {runs} run(s) each")
    print(f"  {'command':<24} {'median s':>9} {'reads':>6} {'writes':>7}")
    for name, values in results.items():
        print(f"  {name:<24} {statistics.median(v[0] for v in values):>9.2f} {values[-1][1]:>6} {values[-1][2]:>7}")


if __name__ == "__main__":
    main()
