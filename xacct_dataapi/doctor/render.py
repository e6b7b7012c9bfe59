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
    t.add_column("check")  # ids have no spaces: only the headings wrap, leaving the evidence room for whole ARNs
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
    t.caption = chain(report) + Text(
        f"\n{s['ok']} ok, {s['warn']} warn, {s['fail']} fail, {s['skipped']} skipped"
        + (f" — first failure: {s['first_failure']}" if s["first_failure"] else " — healthy"))
    t.caption_justify = "left"
    return t


MARK = {OK: "✓", WARN: "!", FAIL: "✗", SKIPPED: "–"}


def chain(report: DoctorReport) -> Text:
    """The chain in one line, link by link in the order a request crosses them, each with its worst check."""
    text = Text("chain: ")
    worst = (FAIL, WARN, OK, SKIPPED)
    links = [link for link in LINKS if any(c.link == link for c in report.checks)]
    for i, link in enumerate(links):
        status = min((c.status for c in report.checks if c.link == link), key=worst.index)
        text.append(" → " if i else "")
        text.append(f"{link} {MARK[status]}", style=STYLE[status])
    return text
