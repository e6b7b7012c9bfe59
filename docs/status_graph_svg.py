"""Regenerate docs/status-graph.svg and docs/status-graph-drifted.svg from a sandbox run:
`.venv/bin/python docs/status_graph_svg.py` (the sandbox extra installed; about 10 s).

A local two-account sandbox (moto server), a real `setup`, then `status --graph` rendered at 80 columns and saved
with rich's SVG export; then the access role's permissions are widened by hand and the drifted picture is saved too.
"""
from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

from rich.console import Console

from xacct_dataapi import app, policies, render
from xacct_dataapi.aws import Sessions
from xacct_dataapi.config import Config
from xacct_dataapi.demo import sandbox_environment
from xacct_dataapi.models import Account
from xacct_dataapi.sandbox import Sandbox
from xacct_dataapi.terminal import Terminal

DOCS = Path(__file__).resolve().parent


def save(report: dict, path: Path, title: str) -> None:
    console = Console(record=True, width=80, file=open(os.devnull, "w"), markup=False, highlight=False, emoji=False)
    console.print(render.status_graph(report))
    console.save_svg(str(path), title=title)
    print(f"wrote {path}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="xacct-graph-") as tmp:
        sandbox = Sandbox(Path(tmp) / "sandbox")
        info = sandbox.start()
        try:
            with sandbox_environment(info.env()):
                cfg = Config(name="orders", consumer_profile=info.consumer_profile, provider_profile=info.provider_profile,
                             cluster=info.cluster_id, vpc_id=info.vpc_id, subnet_ids=tuple(info.subnet_ids),
                             region=info.region, enable_data_api=True)
                path = Path(tmp) / "orders.json"
                password = secrets.token_urlsafe(24)
                app.setup(cfg, path, Terminal.open().quiet(), dry_run=False, password_from_stdin=False,
                          password=lambda: password)
                save(app.status(path, graph=True), DOCS / "status-graph.svg", "xacct status --name orders --graph")
                iam = Sessions.from_profiles(info.consumer_profile, info.provider_profile, info.region).client(
                    Account.PROVIDER, "iam")
                names = cfg.names
                doc = policies.parse(iam.get_role_policy(RoleName=names.access_role,
                                                         PolicyName=names.access_role_policy)["PolicyDocument"])
                doc["Statement"][0]["Resource"] = "*"  # statements on every cluster: drift
                iam.put_role_policy(RoleName=names.access_role, PolicyName=names.access_role_policy,
                                    PolicyDocument=json.dumps(doc))
                save(app.status(path, graph=True), DOCS / "status-graph-drifted.svg",
                     "xacct status --name orders --graph (drifted)")
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
