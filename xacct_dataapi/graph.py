"""`xacct status --graph`: the chain as a picture, derived from the model — never from a hand-written list.

Each step's desired resources (models.Resource) say what references what: a resource USES another when that
one's id or ARN is a value in its properties or in an identity policy it carries (a document without
`Principal`, e.g. the role's permissions naming the cluster, secret and key; the consumer's policy naming the
role; the secret's KmsKeyId naming the key). Resource policies (documents with `Principal`: trust, key, secret and
endpoint policies) name who may use the resource, the same link seen from the other end, so they add no edge.
A step with no edge of its own that describes the same resource as another step (the key policy of the key, the
secret policy of the secret) hangs under that step. A step whose resources sit in a VPC (`VpcId`) hangs under that
VPC, and a check with no resources of its own (the network ACLs) checks the consumer's network, so under the VPC too.
Every node shows its ids (recorded in the state, else the model's) and its status; a node that is not done is red
with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from rich.tree import Tree

from xacct_dataapi.models import Plan, render_value

OK = {"done", "on"}


@dataclass
class Node:
    key: str
    number: int
    title: str
    account: str
    ids: list[str]  # "kind id" of each resource, recorded ids first
    status: str
    reasons: list[str] = field(default_factory=list)
    children: list["Node"] = field(default_factory=list)
    vpc: str | None = None


def _leaves(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_leaves(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_leaves(v) for v in value)) if value else set()
    return {value} if isinstance(value, str) else set()


def _has_principal(doc: Any) -> bool:
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    return any("Principal" in s or "NotPrincipal" in s for s in (statements if isinstance(statements, list) else [statements]))


def _uses(resource) -> set[str]:
    """The values this resource points at: its properties and its identity policies."""
    found = _leaves(render_value(resource.properties))
    for doc in resource.documents.values():
        doc = render_value(doc)
        if not _has_principal(doc):
            found |= _leaves(doc)
    return found


def _names(resource) -> set[str]:
    return {v for v in (render_value(resource.id), render_value(resource.arn)) if isinstance(v, str) and v}


def build(plan: Plan, report: dict, vpc: str | None = None) -> list[Node]:
    """The tree's roots (per account, in the order the picture shows them)."""
    by_key = {s["key"]: s for s in report["steps"]}
    nodes: dict[str, Node] = {}
    for sp in plan.steps:
        s = by_key.get(sp.key)
        recorded = [f"{r['kind']} {r['id']}" for r in (s["resources"] if s else [])]
        recorded_kinds = {r["kind"] for r in (s["resources"] if s else [])}
        ids = recorded + [f"{r.kind} {render_value(r.id)}" for r in sp.desired
                          if r.kind not in recorded_kinds and not str(render_value(r.id)).startswith("${")]
        account = sp.desired[0].account.value if sp.desired else "consumer"
        if s is None:  # the Data API prerequisite: on or off
            status = report.get("data_api", "on")
            reasons = [] if status == "on" else [sp.reason]
        else:
            status, reasons = s["status"], [d for d in s.get("detail", []) if d] or ([s["reason"]] if s["status"] not in OK else [])
        vpcs = {render_value(r.properties.get("VpcId")) for r in sp.desired if r.properties.get("VpcId")}
        nodes[sp.key] = Node(sp.key, sp.number, sp.title, account, ids, status, reasons,
                             vpc=next(iter(vpcs)) if len(vpcs) == 1 else None)
    owner: dict[str, str] = {}  # a resource's id or ARN -> the step that makes it (the first; its policy steps follow)
    for sp in plan.steps:
        for r in sp.desired:
            for name in _names(r):
                owner.setdefault(name, sp.key)
    edges = {sp.key: [] for sp in plan.steps}
    for sp in plan.steps:
        for r in sp.desired:
            for value in sorted(_uses(r)):
                target = owner.get(value)
                if target and target != sp.key and target not in edges[sp.key]:
                    edges[sp.key].append(target)
    numbers = {sp.key: sp.number for sp in plan.steps}
    for targets in edges.values():
        targets.sort(key=numbers.get)
    inbound = {k for targets in edges.values() for k in targets}
    placed: set[str] = set()
    roots: list[Node] = []

    def grow(key: str) -> None:  # breadth-first: each step under the first step that uses it
        queue = [key]
        placed.add(key)
        while queue:
            current = queue.pop(0)
            for target in edges[current]:
                if target not in placed:
                    placed.add(target)
                    nodes[current].children.append(nodes[target])
                    queue.append(target)

    for sp in sorted(plan.steps, key=lambda s: s.number):
        if sp.key not in inbound and edges[sp.key] and sp.key not in placed:
            roots.append(nodes[sp.key])
            grow(sp.key)
    vpc_nodes: dict[str, Node] = {}
    for sp in sorted(plan.steps, key=lambda s: s.number):
        if sp.key in placed:
            continue
        node = nodes[sp.key]
        same = next((owner[n] for r in sp.desired for n in _names(r) if owner.get(n) in placed and owner[n] != sp.key), None)
        if same is not None:
            nodes[same].children.append(node)
        elif node.vpc or not sp.desired:
            vpc = node.vpc or vpc or next(iter(vpc_nodes), "?")
            parent = vpc_nodes.setdefault(vpc, Node("vpc", -1, "VPC", "consumer", [f"VPC {vpc}"], "done"))
            parent.children.append(node)
        else:
            roots.append(node)
        placed.add(sp.key)
        grow(sp.key)
    return roots + list(vpc_nodes.values())


def _label(node: Node) -> Text:
    style = "green" if node.status in OK else "red"
    if node.key == "vpc":
        return Text(node.ids[0], style="bold")
    text = Text(f"[{node.number}] {node.title}" if node.number else node.title, style="bold")
    text.append("  ")
    text.append(node.status, style=style)
    for i in node.ids:
        text.append("\n" + i, style="dim" if node.status in OK else "")
    for reason in node.reasons if node.status not in OK else []:
        text.append("\n! " + reason, style="red")
    return text


def tree(report: dict, roots: list[Node]) -> Tree:
    """Both accounts; a link into the other account is a pointer here and the subtree under that account."""
    accounts = report.get("accounts", {})
    top = Tree(Text(f"xacct deployment {report['name']!r} — {report.get('region')}", style="bold"))
    sections = {a: top.add(Text(f"{a} account {accounts.get(a, '?')}", style="bold magenta")) for a in ("consumer", "provider")}
    pending: list[Node] = []

    def add(parent: Tree, node: Node, here: str) -> None:
        if node.account != here:
            parent.add(Text(f"→ [{node.number}] {node.title}, below", style="magenta"))
            pending.append(node)
            return
        branch = parent.add(_label(node))
        for child in node.children:
            add(branch, child, here)

    for root in roots:
        add(sections[root.account], root, root.account)
    while pending:
        node = pending.pop(0)
        add(sections[node.account], node, node.account)
    return top
