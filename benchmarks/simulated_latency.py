"""Setup time with AWS-like latency, against the local sandbox: every request is delayed (default 60 ms),
a new interface endpoint stays `pending` for a while (default 4 s; minutes on real AWS), and the Data API
takes a while to switch on (default 3 s). Shows what the execution order and overlapped waits buy.

Usage: .venv/bin/python benchmarks/simulated_latency.py [LATENCY_MS] [ENDPOINT_S] [DATA_API_S] [--json]
(prints figures; asserts nothing; --json: one JSON object instead, for benchmarks/bench.py)
"""
from __future__ import annotations

import json
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

AS_JSON = "--json" in sys.argv
ARGS = [a for a in sys.argv[1:] if a != "--json"]
LATENCY = float(ARGS[0]) / 1000 if len(ARGS) > 0 else 0.060
ENDPOINT_READY_AFTER = float(ARGS[1]) if len(ARGS) > 1 else 4.0
DATA_API_READY_AFTER = float(ARGS[2]) if len(ARGS) > 2 else 3.0
COUNTS: Counter = Counter()
CREATED: dict[str, float] = {}
_original_client = aws_mod.Sessions.client


def slow_client(self, account, service):
    client = _original_client(self, account, service)
    if getattr(client, "_bench", False):
        return client
    client._bench = True

    def delay(**kwargs):
        COUNTS["requests"] += 1
        time.sleep(LATENCY)

    def after(http_response, parsed, model, **kwargs):
        now = time.monotonic()
        if model.name == "CreateVpcEndpoint":
            CREATED["endpoint"] = now
        if model.name in ("ModifyDBCluster", "EnableHttpEndpoint"):
            CREATED["data_api"] = now
        if model.name == "DescribeVpcEndpoints" and "endpoint" in CREATED:
            if now - CREATED["endpoint"] < ENDPOINT_READY_AFTER:
                for ep in parsed.get("VpcEndpoints", []):
                    ep["State"] = "pending"
        if model.name == "DescribeDBClusters" and "data_api" in CREATED:
            if now - CREATED["data_api"] < DATA_API_READY_AFTER:
                for c in parsed.get("DBClusters", []):
                    c["HttpEndpointEnabled"] = False

    client.meta.events.register("before-send.*.*", delay)
    client.meta.events.register("after-call.*.*", after)
    return client


def main() -> None:
    aws_mod.Sessions.client = slow_client
    quiet = Console(file=open("/dev/null", "w"))
    ui = Terminal(out=quiet, err=quiet, yes=True)
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "sb") as sb:
        info = sb.info
        with sandbox_environment(info.env()):
            cfg = Config(name="bench", consumer_profile=info.consumer_profile, provider_profile=info.provider_profile,
                         cluster=info.cluster_id, vpc_id=info.vpc_id, subnet_ids=tuple(info.subnet_ids),
                         region=info.region, enable_data_api=True)
            path = Path(tmp) / "bench.json"
            t0 = time.perf_counter()
            result = app.setup(cfg, path, ui, dry_run=False, password_from_stdin=False, password=lambda: "bench-Passw0rd")
            seconds = time.perf_counter() - t0
            # How long setup ran on after the later of the two simulated waits was over (the wait overshoot).
            overshoot = time.monotonic() - max(CREATED["endpoint"] + ENDPOINT_READY_AFTER,
                                               CREATED["data_api"] + DATA_API_READY_AFTER)
            order = json.loads(path.read_text())["resources"]
            fresh_requests = COUNTS["requests"]
            COUNTS.clear()
            t0 = time.perf_counter()
            app.setup(cfg, path, ui, dry_run=False, password_from_stdin=False)
            rerun = time.perf_counter() - t0
    if AS_JSON:
        print(json.dumps({"latency_ms": LATENCY * 1000, "endpoint_s": ENDPOINT_READY_AFTER, "data_api_s": DATA_API_READY_AFTER,
                          "setup_s": seconds, "overshoot_s": overshoot, "setup_requests": fresh_requests, "changes": len(result.calls_made),
                          "rerun_s": rerun, "rerun_requests": COUNTS["requests"]}))
        return
    print(f"setup with {LATENCY * 1000:.0f} ms/request, endpoint pending {ENDPOINT_READY_AFTER:.1f} s, "
          f"Data API switching {DATA_API_READY_AFTER:.1f} s")
    print(f"  fresh setup: {seconds:.2f} s   requests: {fresh_requests}   changes: {len(result.calls_made)}   "
          f"ran on {overshoot:.2f} s after both simulated waits were over")
    print(f"  no-op re-run: {rerun:.2f} s   requests: {COUNTS['requests']} "
          f"(one after another they would take {COUNTS['requests'] * LATENCY:.2f} s)")
    print(f"  floor if the two waits ran one after the other: {ENDPOINT_READY_AFTER + DATA_API_READY_AFTER:.1f} s "
          f"+ requests; if overlapped: {max(ENDPOINT_READY_AFTER, DATA_API_READY_AFTER):.1f} s + requests")
    print("  record order: " + ", ".join(r["kind"] for r in order))


if __name__ == "__main__":
    main()
