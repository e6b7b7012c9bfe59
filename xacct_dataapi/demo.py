"""`xacct demo`: the whole product against a throw-away local sandbox, in one process.

plan → setup (with --enable-data-api) → status → a SELECT through the assumed role → teardown → a check
that nothing is left in either account → a summary. Exit 0 only if every phase succeeded.
"""
from __future__ import annotations

import io
import os
import secrets
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from xacct_dataapi import app, render
from xacct_dataapi.aws import Sessions
from xacct_dataapi.config import Config
from xacct_dataapi.errors import XacctError
from xacct_dataapi.terminal import Terminal
from xacct_dataapi.verify import verify

_ISOLATE = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "MOTO_ACCOUNT_ID", "XACCT_DB_PASSWORD")


@contextmanager
def sandbox_environment(env: dict[str, str]):
    saved = {k: os.environ.get(k) for k in (*_ISOLATE, *env)}
    try:
        for k in _ISOLATE:
            os.environ.pop(k, None)
        os.environ.update(env)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class Phase:
    name: str
    seconds: float
    ok: bool
    detail: str = ""


@dataclass
class DemoResult:
    phases: list[Phase] = field(default_factory=list)
    created: list[dict] = field(default_factory=list)
    leftovers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.phases) and not any(self.leftovers.values())


def run_demo(ui: Terminal, engine: str = "aurora-postgresql", keep_dir: Path | None = None,
             verbose: bool = False) -> DemoResult:
    """By default one screen at 80 columns: the plan once (a line per step), each phase with its time, the SELECT's
    rows; `verbose` adds the full plan, setup's and teardown's progress, and the status table."""
    from xacct_dataapi.sandbox import Sandbox, queue_statement_result, resources_in_accounts
    from xacct_dataapi.sandbox.leftovers import left_by_deployment

    result = DemoResult()
    say = ui.note

    def phase(name: str):
        return _Timer(result, name, say, verbose)

    with tempfile.TemporaryDirectory(prefix="xacct-demo-") as tmp:
        work = keep_dir or Path(tmp)
        with phase("sandbox: two accounts on a local moto server") as p:
            sandbox = Sandbox(work / "sandbox", engine=engine)
            info = sandbox.start()
            p.detail = (f"consumer {info.consumer_account}, provider {info.provider_account}, {info.endpoint_url}; xacct "
                        f"runs as {info.operator_consumer_profile} / {info.operator_provider_profile}, operators "
                        "holding only what `xacct permissions --for all` prints")
        try:
            with sandbox_environment(info.env()):
                # As the least-privilege operators (sandbox/operators.py): a call the generated policies lack fails.
                cfg = Config(name="demo", consumer_profile=info.operator_consumer_profile,
                             provider_profile=info.operator_provider_profile,
                             cluster=info.cluster_id, vpc_id=info.vpc_id, subnet_ids=tuple(info.subnet_ids),
                             region=info.region, db_user="app_user", enable_data_api=True)
                state_path = work / "state" / "demo.json"
                # The DB user's password the sandbox seeded its PostgreSQL with (aurora-mysql is emulated: any will
                # do); never printed, never stored by xacct: only in the secret.
                password = info.db_password() or secrets.token_urlsafe(24)
                quiet = ui.quiet() if verbose else _silent(ui)
                with phase("plan (dry run)") as p:
                    r = app.setup(cfg, state_path, quiet, dry_run=True, password_from_stdin=False, password=lambda: password)
                    p.detail = f"{sum(len(s.calls) for s in r.plan.steps)} calls planned"
                if not verbose:
                    ui.note(render.plan_overview(r.plan, f"The plan: deployment {cfg.name!r}, consumer "
                                                         f"{info.consumer_account} → provider {info.provider_account}"))
                with phase("setup") as p:
                    r = app.setup(cfg, state_path, quiet, dry_run=False, password_from_stdin=False, password=lambda: password)
                    p.detail = f"{len(r.calls_made)} AWS changes"
                    result.created = [{"kind": x.kind, "id": x.id, "account": x.account} for x in r.state.resources]
                with phase("status") as p:
                    report = app.status(state_path)
                    if verbose:
                        ui.note(render.status_table(report))
                    p.ok = report["all_done"]
                    done = [s for s in report["steps"] if s["status"] == "done"]
                    p.detail = f"{len(done)} of {len(report['steps'])} steps done" + "".join(
                        f"; {s['number']}: {s['status']}" for s in report["steps"] if s not in done)
                with phase("SELECT through the assumed role") as p:
                    sql = "SELECT current_user, message FROM greetings ORDER BY id"  # the sandbox's example table
                    if not info.db_port:  # aurora-mysql: emulated, answers what is queued
                        queue_statement_result(info, [[{"stringValue": "app_user@%"}, {"stringValue": "hello from the "
                                                        "provider account"}]], [{"name": "current_user", "typeName":
                                                        "VARCHAR"}, {"name": "message", "typeName": "VARCHAR"}])
                    aws = Sessions.from_profiles(info.operator_consumer_profile, info.operator_provider_profile,
                                                 info.region)
                    v = verify(r.state, aws, sql=sql)
                    p.ok = bool(v.rows)
                    ui.note(render.rows_table(v.columns, v.rows))
                    p.detail = (f"{v.principal.split('/')[-1]} → {v.role_arn.split('/')[-1]}: "
                                f"{render.rows_text(v.columns, v.rows)}")
                with phase("teardown") as p:
                    t = app.teardown(state_path, quiet)
                    p.detail = app.removal_summary(t.removed)
                with phase("nothing left behind") as p:
                    result.leftovers = resources_in_accounts(info)
                    admin = Sessions.from_profiles(info.consumer_profile, info.provider_profile, info.region)
                    by_model = left_by_deployment(admin, cfg.name, info.consumer_account, info.provider_account)
                    for account, found in by_model.items():
                        result.leftovers.setdefault(account, []).extend(found)
                    p.ok = not any(result.leftovers.values())
                    p.detail = ("both accounts clean (the KMS key is scheduled for deletion, as AWS requires)"
                                if p.ok else str(result.leftovers))
        finally:
            sandbox.stop()
    return result


def _silent(ui: Terminal) -> Terminal:
    """A terminal that keeps what it is told (the full plan, the progress): the default demo shows its own summary."""
    kept = Console(file=io.StringIO(), width=ui.err.width)
    return Terminal(out=kept, err=kept, json=False, yes=True, stdin_tty=ui.stdin_tty)


class _Timer:
    def __init__(self, result: DemoResult, name: str, say, verbose: bool = True):
        self.result, self.name, self.say, self.verbose = result, name, say, verbose
        self.ok, self.detail = True, ""

    def __enter__(self):
        if self.verbose:
            self.say(f"▶ {self.name}")
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb):
        seconds = time.perf_counter() - self.t0
        if exc is not None:
            self.ok = False
            self.detail = str(exc) if isinstance(exc, XacctError) else f"{type(exc).__name__}: {exc}"
        self.result.phases.append(Phase(self.name, seconds, self.ok, self.detail))
        mark = "✓" if self.ok else "✗"
        shown = self.detail if self.verbose or not self.ok else ""  # the summary table has the details
        self.say(f"  {mark} {self.name} ({seconds:.2f}s){': ' + shown if shown else ''}")
        return False
