"""What the command benchmarks share: a sandbox in this process with the server-side request log in front of it,
and each contender's commands run as their own processes against it.
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recorder  # noqa: E402

HERE = Path(__file__).resolve().parent
PASSWORD = "bench-Passw0rd-1"
_DROP = ("AWS_", "MOTO_", "XACCT_")


@dataclass
class Run:
    """One command in its own process: wall time (process start to exit) and the requests the server saw."""
    wall: float
    requests: list[recorder.Request]
    t0: float  # process start (server clock: same machine, same monotonic clock)
    t1: float
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def reads(self) -> int:
        return sum(1 for r in self.requests if r.read)

    @property
    def writes(self) -> int:
        return sum(1 for r in self.requests if not r.read)

    def by_op(self) -> Counter:
        return Counter(r.op for r in self.requests)


class Bench:
    def __init__(self, sandbox, log: recorder.Log, work: Path):
        self.sandbox, self.log, self.work = sandbox, log, work
        self.info = sandbox.info
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
        env.update(self.info.env())
        env["XACCT_DB_PASSWORD"] = PASSWORD
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.env = env

    def run(self, argv: list[str], cwd: Path | None = None) -> Run:
        mark = self.log.mark()
        t0 = time.monotonic()
        res = subprocess.run(argv, cwd=cwd or self.work, env=self.env, capture_output=True, text=True)
        t1 = time.monotonic()
        return Run(t1 - t0, self.log.since(mark), t0, t1, res.returncode, res.stdout, res.stderr)

    # -- the contenders' command lines

    def xacct(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).with_name("xacct")), *args]

    def xacct_setup(self, name: str) -> list[str]:
        i = self.info
        return self.xacct("setup", "--name", name, "--provider-profile", i.provider_profile,
                          "--consumer-profile", i.consumer_profile, "--cluster", i.cluster_id, "--vpc", i.vpc_id,
                          "--subnets", ",".join(i.subnet_ids), "--region", i.region, "--enable-data-api", "--yes")

    def script(self, name: str, command: str, deployment: str) -> list[str]:
        i = self.info
        return [sys.executable, str(HERE / f"{name}.py"), command, "--name", deployment,
                "--provider-profile", i.provider_profile, "--consumer-profile", i.consumer_profile,
                "--cluster", i.cluster_id, "--vpc", i.vpc_id, "--subnets", ",".join(i.subnet_ids),
                "--region", i.region]


def compiled_like_an_install() -> None:
    """Write the bytecode of xacct's modules, as `pip install` does for an installed package. Without it, on a
    machine with PYTHONDONTWRITEBYTECODE set (this one, and many CI images) or an editable install that cannot
    write, every xacct process compiles its ~50 modules from source first: ~0.3 s of CPU that an installed xacct
    never spends, while boto3's and the baselines' libraries have their bytecode. compileall writes regardless of
    PYTHONDONTWRITEBYTECODE, and skips modules whose bytecode is current."""
    import compileall

    import xacct_dataapi

    compileall.compile_dir(Path(xacct_dataapi.__file__).parent, quiet=1)


def warm_up(info) -> None:
    """One read per service and account before anything is measured: moto builds some answers on first use (its
    DescribeVpcEndpointServices list takes ~0.6 s the first time, a few ms after), which real AWS does not."""
    import boto3

    from xacct_dataapi.demo import sandbox_environment

    with sandbox_environment(info.env()):
        c = boto3.session.Session(profile_name=info.consumer_profile, region_name=info.region)
        p = boto3.session.Session(profile_name=info.provider_profile, region_name=info.region)
        for s in (c, p):
            s.client("sts").get_caller_identity()
            s.client("iam").list_roles()
            s.client("ec2").describe_vpc_endpoint_services()
            s.client("kms").list_keys()
            s.client("secretsmanager").list_secrets()
            s.client("resourcegroupstaggingapi").get_resources()
            s.client("rds").describe_db_clusters()
        c.client("ec2").describe_vpcs()
        c.client("ec2").describe_vpc_endpoints()
        c.client("route53").list_hosted_zones_by_vpc(VPCId=info.vpc_id, VPCRegion=info.region)


@contextmanager
def sandbox(work: Path, realism) -> Iterator[Bench]:
    """A fresh sandbox (moto reset, seeded) served by this process; seeded and warmed up without latency, then
    `realism` (latency, pending durations) switched on, and every request recorded from then on."""
    from xacct_dataapi.sandbox import Sandbox
    from xacct_dataapi.sandbox import realism as layer

    compiled_like_an_install()
    log = recorder.Log()
    with Sandbox(work / "sandbox") as sb:
        warm_up(sb.info)
        # moto's heap (botocore models, backends) is large: a full collection of it stalls every request thread
        # for ~0.4 s at random moments (seen in the server's log). Frozen, collections only scan what is new.
        gc.collect()
        gc.freeze()
        layer._world_now().realism = realism
        recorder.install(sb, log)
        recorder.watch_gc(log)
        yield Bench(sb, log, work)


def timeline(run: Run, latency_ms: float = 0.0, waits_end: list | None = None, pauses: list | None = None) -> str:
    """One line per request, times from the process start (ms): start, end, service, operation."""
    lines = [f"    {'start':>7} {'end':>7}  {'service':<15} operation   (ms from process start)"]
    for r in run.requests:
        lines.append(f"    {(r.start - run.t0) * 1000:7.0f} {(r.end - run.t0) * 1000:7.0f}  {r.service:<15} {r.op}"
                     + ("" if 200 <= r.status < 300 else f"  [{r.status}]"))
    for due, what in waits_end or []:
        if run.t0 <= due <= run.t1:
            lines.append(f"    {(due - run.t0) * 1000:7.0f}          (simulated wait over: {what})")
    for start, seconds in pauses or []:
        if run.t0 <= start <= run.t1:
            lines.append(f"    {(start - run.t0) * 1000:7.0f} {(start + seconds - run.t0) * 1000:7.0f}  "
                         "(the sandbox server's garbage collector: every request stalled)")
    lines.append(f"    {(run.t1 - run.t0) * 1000:7.0f}          process exited")
    return "\n".join(lines)
