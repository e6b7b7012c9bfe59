"""All terminal output: plan tables, status tables, progress, errors, JSON documents.

rich consoles with markup and highlighting off, so AWS data is never interpreted as markup.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from xacct_dataapi import cost
from xacct_dataapi.errors import XacctError
from xacct_dataapi.layout import Prose
from xacct_dataapi.aws import iam_action
from xacct_dataapi.models import Action, Call, Operation, Plan, PlanItem, StepPlan, render_value
from xacct_dataapi.procedures import actions_of, function_of
from xacct_dataapi.progress import ProgressReporter  # noqa: F401 (Terminal.progress returns it)
from xacct_dataapi.waiting import acceptors

ACTION_STYLE = {Action.CREATE: "green", Action.REPAIR: "yellow", Action.REPLACE: "yellow", Action.NOOP: "dim",
                Action.CHECK: "red", Action.DELETE: "red"}
STATUS_STYLE = {"done": "green", "pending": "cyan", "drifted": "yellow", "missing": "red", "failed": "red"}


def make_console(stderr: bool = False) -> Console:
    """On a terminal, its width; piped, COLUMNS or 80 (tables fold long values instead of cutting them)."""
    piped_width = int(os.environ.get("COLUMNS") or 80)
    return Console(stderr=stderr, markup=False, highlight=False, emoji=False, soft_wrap=False,
                   width=None if (sys.stderr if stderr else sys.stdout).isatty() else piped_width)


def call_json(call: PlanItem) -> dict:
    """One item as data: what it calls (service, operation, parameters with secrets masked; for an Operation the
    registered procedure and the function it names), the IAM actions that takes (a Call's one; each one the
    procedure may call; not the reads of its wait and guard), what it records, forgets and stores, what it retries
    on, what it waits for (the read polled, the JMESPath naming the state, the values meaning pending and done), and
    what AWS must show before a delete runs."""
    service, _, operation = call.label.partition(":") if call.changes_aws else ("", "", "")
    doc = {
        "account": call.account.value,
        "call": call.label,
        "description": call.description,
        "params": render_value(call.params),
        "service": service or None,
        "operation": operation or None,
    }
    if isinstance(call, Operation):
        doc["procedure"] = {"name": call.name, "function": function_of(call.name)}
        doc["iam_actions"] = list(actions_of(call.name))
    elif isinstance(call, Call):
        doc["iam_actions"] = [iam_action(call.service, call.method)]
    if call.record is not None:
        r = call.record
        doc["records"] = {"kind": r.kind, "id": render_value(r.id), "arn": render_value(r.arn),
                          "adopted": not r.created}
    if call.forget is not None:
        doc["forgets"] = {"kind": call.forget[0], "id": render_value(call.forget[1])}
    if call.store:
        doc["stores"] = render_value(call.store)
    if call.outputs:
        doc["outputs"] = dict(call.outputs)
    retry, ok_codes = getattr(call, "retry", None), getattr(call, "ok_codes", ())
    if retry is not None:
        doc["retries_on"] = {"codes": list(retry.codes), "message_contains": list(retry.message_contains),
                             "reason": retry.reason}
    if ok_codes:
        doc["done_if"] = list(ok_codes)
    if call.guard is not None:
        doc["guard"] = dict(call.guard)
    if call.wait is not None:
        w = call.wait
        doc["wait"] = {"account": w.account.value, "service": w.service, "operation": w.method,
                       "params": render_value(w.params), "state": w.state, "while": list(w.pending),
                       "until": list(w.target), "what": w.what, "deferred": w.deferred,
                       # botocore's waiter model shape; unlike botocore's, any other value fails the wait at once
                       "acceptors": acceptors(w.state, w.pending, w.target), "otherwise": "failure"}
    return doc


def step_json(step: StepPlan) -> dict:
    return {
        "number": step.number,
        "key": step.key,
        "title": step.title,
        "action": step.action.value,
        "reason": step.reason,
        "calls": [call_json(c) for c in step.calls],
        "documents": render_value(step.documents),
        "problems": list(step.problems),
        "foreign": list(step.foreign),
        "drift": step.drift,
    }


def plan_json(plan: Plan, meta: dict) -> dict:
    return {
        **meta,
        "kind": plan.kind,
        "changes": plan.changes,
        "counts": {a.value: n for a, n in action_counts(plan).items() if n},
        # Setup shows the recipe's numbering (execution_order says what runs when); teardown runs as listed.
        "steps": [step_json(s) for s in (plan.steps if plan.kind == "teardown" else sorted(plan.steps, key=lambda s: s.number))],
        "execution_order": [s.key for s in plan.steps],
    }


def print_json(console: Console, doc: Any) -> None:
    console.print(json.dumps(doc, indent=2, default=str), soft_wrap=True)


def action_counts(plan: Plan) -> dict[Action, int]:
    count = {a: 0 for a in Action}
    for s in plan.steps:
        count[s.action] += 1
    return count


def plan_summary(plan: Plan) -> str:
    count = action_counts(plan)
    if plan.kind == "teardown":
        return f"Plan: {len(plan.calls)} call(s) to delete {len(plan.steps)} step(s)' resources, in this order."
    calls = sum(1 for c in plan.calls if c.changes_aws)
    replace = f"{count[Action.REPLACE]} to replace, " if count[Action.REPLACE] else ""
    text = (f"Plan: {count[Action.CREATE]} step(s) to create, {count[Action.REPAIR]} to repair, {replace}"
            f"{count[Action.NOOP]} unchanged — {calls} AWS call(s).")
    if count[Action.CHECK]:
        text += f" {count[Action.CHECK]} check(s) failing."
    foreign = sum(len(s.foreign) for s in plan.steps)
    if foreign:
        text += f" {foreign} grant(s) xacct did not make: named (!), kept, and the run fails."
    return text


def plan_table(plan: Plan, title: str, changed_inputs: tuple[str, ...] | list[str] = ()) -> Table:
    """The plan; what changed since the last setup (`--vpc: A -> B`) under its title, so the reason is in the plan."""
    if changed_inputs:
        title += "\nChanged since the last setup: " + "; ".join(changed_inputs)
    table = Table(title=title, title_justify="left", show_lines=False, expand=False, caption=plan_summary(plan),
                  caption_justify="left")
    table.add_column("#", justify="right")
    table.add_column("step", overflow="fold")
    table.add_column("action")
    table.add_column("what and why", overflow="fold")  # never cut a call name or an id: a reviewer reads them
    ordered = plan.steps if plan.kind == "teardown" else sorted(plan.steps, key=lambda s: s.number)
    for s in ordered:
        lines = [s.reason] if s.reason else []
        for c in s.calls:
            if c.bookkeeping:
                lines.append(f"  · {c.description}")
            elif not c.changes_aws:
                lines.append(f"  … {c.description}")
            else:
                lines.append(f"  → {c.account.value}: {c.label}  ({c.description})")
        for p in (s.problems if s.action is Action.CHECK else []) + s.foreign:
            lines.append(f"  ! {p}")
        table.add_row(str(s.number) if s.number else "–", s.title,
                      Text(s.action.value, style=ACTION_STYLE.get(s.action, "")), "\n".join(lines))
    return table


def plan_overview(plan: Plan, title: str) -> Table:
    """The plan in a line per step (its action and how many AWS calls change something): the demo's one screen."""
    table = Table(title=title, title_justify="left", caption=plan_summary(plan), caption_justify="left")
    for column in ("#", "step", "action", "AWS calls"):
        table.add_column(column, justify="right" if column in ("#", "AWS calls") else "left")
    for s in sorted(plan.steps, key=lambda s: s.number):
        table.add_row(str(s.number) if s.number else "–", s.title, Text(s.action.value, style=ACTION_STYLE.get(s.action, "")),
                      str(sum(1 for c in s.calls if c.changes_aws)))
    return table


def status_table(report: dict) -> Table:
    not_done = [s for s in report["steps"] if s["status"] != "done"]
    caption = ("All eight steps are done." if not not_done else
               f"{len(not_done)} step(s) not done: `xacct setup --name {report['name']}` creates or repairs them; "
               "add --dry-run to see how.")
    if (report.get("last_error") or {}).get("during") == "teardown":
        caption = (f"A teardown was interrupted: `xacct teardown --name {report['name']}` finishes it "
                   "(the state still records what is left).")
    if report.get("monthly_cost"):
        caption += "\n" + cost.summary(report["monthly_cost"])
    handoff = report.get("handoff")
    if handoff and not not_done:
        caption += (f"\nThe application assumes {handoff['role_arn']} (external id {handoff['external_id']}) as "
                    f"{handoff['consumer_principal']}, then calls rds-data on {handoff['cluster_arn']} with secret "
                    f"{handoff['secret_arn']} and database {handoff['database']!r} in {handoff['region']}. "
                    f"Next: `{handoff['next']}`.")
    table = Table(caption=caption, caption_justify="left", title=f"xacct deployment {report['name']!r} — consumer {report['accounts'].get('consumer')} / "
                        f"provider {report['accounts'].get('provider')} / {report.get('region')}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("step", overflow="fold")
    table.add_column("status")
    table.add_column("resources / detail", overflow="fold")  # ids whole, never cut
    data_api_on = report.get("data_api") == "on"
    table.add_row("–", "Data API on the cluster", Text("on" if data_api_on else "off", style="green" if data_api_on else "red"),
                  "" if data_api_on else "the cluster's Data API is off: `xacct setup --enable-data-api` turns it on")
    for s in report["steps"]:
        detail = [f"{r['kind']} {r['id']}" for r in s["resources"]]
        detail += [f"! {d}" for d in s.get("detail", [])]
        table.add_row(str(s["number"]), s["title"], Text(s["status"], style=STATUS_STYLE.get(s["status"], "")),
                      "\n".join(detail) or s.get("reason", ""))
    return table


def status_graph(report: dict):
    """`status --graph`: the chain as a tree (graph.py), then the same caption as the table."""
    from rich.console import Group

    from xacct_dataapi import graph

    return Group(graph.tree(report, report["graph"]), Prose(status_table(report).caption or ""))


def error(console: Console, exc: XacctError) -> None:
    # Wrapped at spaces only (layout.Prose): a path, an ARN or a command's token is never split, and one longer than
    # the line stands alone on it, whole for copying; the rest reads at the terminal's width (80 columns and up).
    text = Text("Error: ", style="bold red") + Text(str(exc))
    console.print(Prose(text), soft_wrap=True)


def demo_summary(summary: dict) -> Table:
    table = Table(title=f"xacct demo — {'OK' if summary['ok'] else 'FAILED'} in {summary['seconds']:.1f}s",
                  title_justify="left")
    table.add_column("phase")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_column("detail")
    for p in summary["phases"]:
        table.add_row(p["name"], Text("ok" if p["ok"] else "FAILED", style="green" if p["ok"] else "red"),
                      f"{p['seconds']:.2f}s", p["detail"])
    accounts = [c["account"] for c in summary["created"]]
    table.add_row("created", "", "", f"{len(accounts)} resources: " + ", ".join(
        f"{accounts.count(a)} in the {a} account" for a in sorted(set(accounts))))
    left = [x for v in summary["leftovers"].values() for x in v]
    table.add_row("left behind", "", "", ", ".join(left) if left else "nothing")
    return table


def deployments_table(found: list[dict]) -> Table:
    table = Table(title="xacct deployments (.xacct/)", title_justify="left")
    for column in ("name", "consumer → provider, region", "cluster / vpc", "state", "≈ $/month"):
        table.add_column(column, overflow="fold", justify="right" if column.endswith("month") else "left")
    for d in found:
        usd = (d.get("monthly_cost") or {}).get("usd_per_month")
        shared = ((d.get("monthly_cost") or {}).get("endpoint_counted_with"), d.get("endpoint_shared_with"))
        note = (f"\nendpoint: see {shared[0]}" if shared[0] else
                f"\nendpoint shared with {', '.join(shared[1])}" if shared[1] else "")
        table.add_row(d["name"], f"{d.get('consumer') or '?'} → {d.get('provider') or '?'}\n{d.get('region') or '?'}",
                      f"{d.get('cluster') or '?'}\n{d.get('vpc') or '?'}",
                      f"{d['summary']}" + (f", {d['resources']} resources" if "resources" in d else "") + note
                      + _in_aws(d),
                      "?" if usd is None else f"{usd:.2f}")
    if any(d.get("monthly_cost") for d in found):
        table.caption = f"≈ $/month: what each deployment keeps running ({cost.NOTE}); docs/cost.md"
        table.caption_justify = "left"
    return table


def _in_aws(d: dict) -> str:
    """`list --refresh`: what AWS showed of the deployment's recorded resources (commands/refresh.py)."""
    found = d.get("aws")
    if found is None:
        return ""
    if not found.get("checked"):
        return f"\nAWS not checked: {found.get('why')}"
    unchecked = (f"\nnot allowed to check: {', '.join(found['unchecked'])} (--for list)" if found.get("unchecked")
                 else "")
    if found.get("missing"):
        return f"\nAWS lacks: {', '.join(found['missing'])}" + unchecked
    if unchecked:
        return unchecked
    if d.get("state_file") is None:  # found in AWS alone
        return f"\nAWS has: {', '.join(found['present'])}"
    return f"\nAWS has all {len(found['present'])} checked" if found["present"] else "\nnothing recorded to check"


def _column_names(columns: list[str], rows: list[list[Any]]) -> list[str]:
    width = max([len(columns)] + [len(r) for r in rows])
    return list(columns) + [f"col{i + 1}" for i in range(len(columns), width)]


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def rows_table(columns: list[str], rows: list[list[Any]]) -> Table:
    """A statement's result (verify, the demo): one column per result column, values as text (NULL for None)."""
    table = Table()
    for name in _column_names(columns, rows):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*[_cell(v) for v in row])
    return table


def rows_text(columns: list[str], rows: list[list[Any]]) -> str:
    """A short result for one table cell: '1 row: greeting = hello' (the first row), never a Python repr."""
    if not rows:
        return "0 rows"
    first = ", ".join(f"{n} = {_cell(v)}" for n, v in zip(_column_names(columns, rows), rows[0]))
    return f"{len(rows)} row{'s' if len(rows) != 1 else ''}: {first}" + (" …" if len(rows) > 1 else "")
