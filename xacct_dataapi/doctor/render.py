"""Doctor's output: a rich table grouped by account and link (readable at 80 columns), or the JSON document."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text

from xacct_dataapi.doctor.model import FAIL, LINKS, OK, SKIPPED, WARN, DoctorReport

STYLE = {OK: "green", WARN: "yellow", FAIL: "red", SKIPPED: "dim"}
ACCOUNTS = ("provider", "consumer", "both")


def table(report: DoctorReport) -> Table:
    acc = report.accounts
    title = (f"xacct doctor — {('deployment ' + repr(report.deployment)) if report.deployment else 'no state file'}, "
             f"consumer {acc.get('consumer')} → provider {acc.get('provider')}, {report.region}")
    t = Table(title=title, show_lines=False, expand=False)
    t.add_column("check", no_wrap=True)
    t.add_column("status", no_wrap=True)
    t.add_column("evidence / fix", overflow="fold", ratio=1)
    order = {link: i for i, link in enumerate(LINKS)}
    rows = sorted(report.checks, key=lambda c: (ACCOUNTS.index(c.account), order.get(c.link, len(LINKS))))
    last = None
    for c in rows:
        if (c.account, c.link) != last:
            # One heading row per account and link, so the narrow columns carry only the check and its status.
            t.add_section()
            t.add_row(Text(f"{c.account} · {c.link}", style="bold"), "", "")
            last = (c.account, c.link)
        detail = Text(c.evidence)
        if c.fix and c.status in (FAIL, WARN):
            detail.append("\nfix: " + c.fix, style="italic")
        t.add_row(c.id, Text(c.status, style=STYLE[c.status]), detail)
    s = report.summary()
    t.caption = (f"{s['ok']} ok, {s['warn']} warn, {s['fail']} fail, {s['skipped']} skipped"
                 + (f" — first failure: {s['first_failure']}" if s["first_failure"] else " — healthy"))
    return t
