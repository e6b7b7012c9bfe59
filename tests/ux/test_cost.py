"""The monthly estimate (xacct_dataapi/cost.py): one dated price table; per AZ; shown by setup, status and list."""
from __future__ import annotations

import io

import pytest
from rich.console import Console

from xacct_dataapi import cost, render
from xacct_dataapi.state import ResourceRow, State


@pytest.mark.parametrize("azs, total, endpoint", [(2, 16.00, 14.60), (3, 23.30, 21.90)])
def test_endpoint_is_billed_per_az_hour_plus_key_and_secret(azs, total, endpoint):
    estimate = cost.for_config([f"subnet-{i}" for i in range(azs)])
    assert estimate["usd_per_month"] == pytest.approx(total)
    assert estimate["lines"][0]["usd"] == pytest.approx(endpoint)
    assert [line["usd"] for line in estimate["lines"][1:]] == [1.00, 0.40]
    assert "32 KB" in estimate["requests"] and "data_api_million" not in cost.PRICES  # unverified: not estimated
    line = cost.summary(estimate)
    assert f"${total:.2f}/month" in line and f"{azs} AZ" in line
    assert "estimate" in line and cost.PRICES_AS_OF in line and "us-east-1" in line


def test_from_the_state_counts_only_what_is_recorded():
    state = State(name="orders")
    state.config["subnet_ids"] = ["subnet-a", "subnet-b", "subnet-c"]
    assert cost.for_state(state)["usd_per_month"] == 0
    state.record(ResourceRow(step=1, kind="kms_key", id="k", account="provider"))
    state.record(ResourceRow(step=7, kind="vpc_endpoint", id="vpce-1", account="consumer"))
    assert cost.for_state(state)["usd_per_month"] == pytest.approx(22.90)


def test_list_shows_the_estimate_per_deployment_at_80_columns():
    found = [{"name": "orders", "consumer": "111111111111", "provider": "222222222222", "region": "us-east-1",
              "cluster": "orders-aurora", "vpc": "vpc-0abc1234", "resources": 9, "summary": "complete",
              "monthly_cost": cost.monthly(2)}]
    console = Console(file=io.StringIO(), width=80, record=True)
    console.print(render.deployments_table(found))
    text = console.export_text()
    assert "16.00" in text and "estimate" in text
    assert all(len(line) <= 80 for line in text.splitlines())
