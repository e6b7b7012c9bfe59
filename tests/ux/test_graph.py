"""`xacct status --graph` (graph.py): the chain drawn from the model, healthy and drifted, text and SVG, 80 columns."""
from __future__ import annotations

import io
import json
import re

from rich.console import Console
from typer.testing import CliRunner

from xacct_dataapi import app, cli, policies, render


def draw(report: dict) -> tuple[str, str]:
    console = Console(file=io.StringIO(), width=80, record=True)
    console.print(render.status_graph(report))
    return console.export_text(styles=False, clear=False), console.export_svg(title="xacct status --graph")


def test_healthy_graph_has_both_accounts_every_link_ids_and_states(deployed):
    report = app.status(deployed.path, graph=True)
    text, svg = draw(report)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    consumer = lines.index(next(line for line in lines if "consumer account 111111111111" in line))
    provider = lines.index(next(line for line in lines if "provider account 222222222222" in line))
    below = lambda a, b: lines.index(next(line for line in lines if a in line)) < lines.index(next(line for line in lines if b in line))  # noqa: E731
    # consumer principal → access role → cluster, key, secret; VPC → endpoint and security group, NACLs
    assert consumer < provider
    assert below("[6] Consumer principal", "→ [5] Access role")
    assert below("[5] Access role for the Data API (provider)  done", "Data API enabled on the cluster  on")
    assert below("[1] KMS key (provider)  done", "[2] Key policy")
    assert below("[3] DB credentials secret (provider)  done", "[4] Secret policy")
    assert below("VPC vpc-", "[7] Security group and rds-data endpoint") and below("[7] Security", "[8] Network ACLs")
    for kind in ("iam_user xacct-orders-data-api-client", "iam_role xacct-orders-data-api-access", "vpc_endpoint vpce-",
                 "security_group sg-", "secret xacct-orders/db-credentials", "data_api orders-aurora"):
        assert kind in text, kind
    assert "!" not in text and "drifted" not in text
    assert "<svg" in svg and "xacct-orders-data-api-access" in svg


def test_a_drifted_link_is_red_with_its_reason_in_text_and_svg(deployed, world):
    iam = world.provider.client("iam")
    name, pname = deployed.names.access_role, deployed.names.access_role_policy
    tampered = policies.parse(iam.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"])
    tampered["Statement"][0]["Resource"] = "*"
    iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=json.dumps(tampered))

    report = app.status(deployed.path, graph=True)
    text, svg = draw(report)
    assert "[5] Access role for the Data API (provider)  drifted" in text
    reason = next(line for line in text.splitlines() if "! " in line)
    assert "RunDataApiStatements" in text, text
    assert all(len(line) <= 80 for line in text.splitlines())
    # red in the SVG: the text "drifted" carries a class whose fill is the SVG theme's red (#cc555a)
    cls = re.search(r'<text class="([^"]+)"[^>]*>drifted', svg).group(1)
    assert re.search(rf"\.{cls} {{ fill: #cc555a", svg), reason


def test_status_json_is_unchanged_by_graph(deployed):
    runner = CliRunner()
    plain = runner.invoke(cli.cli, ["status", "--name", "orders", "--output", "json"])
    drawn = runner.invoke(cli.cli, ["status", "--name", "orders", "--output", "json", "--graph"])
    assert plain.exit_code == drawn.exit_code == 0
    assert json.loads(plain.stdout) == json.loads(drawn.stdout)
    text = runner.invoke(cli.cli, ["status", "--name", "orders", "--graph"])
    assert text.exit_code == 0 and "provider account 222222222222" in text.stdout


def test_doctor_draws_the_chain_with_the_broken_link_marked(deployed, world):
    from xacct_dataapi import doctor
    from xacct_dataapi.doctor.render import table

    world.provider.client("rds").modify_db_cluster(DBClusterIdentifier=world.cluster_id, EnableHttpEndpoint=False,
                                                   ApplyImmediately=True)
    console = Console(file=io.StringIO(), width=80, record=True)
    console.print(table(doctor.run(deployed.path)))
    text = console.export_text()
    assert "chain: cluster ✗ → secret" in " ".join(text.split())
    assert max(len(line) for line in text.splitlines()) <= 80
