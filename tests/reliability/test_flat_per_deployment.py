"""verify and doctor of one deployment make the same requests, operation by operation, whether or not other
deployments share its VPC, cluster and accounts (issue 27; benchmarks/scale.py measures them with 49 and 499 others
at 100 ms a request). In-process moto, counted per account and operation (tests/helpers/counting.py)."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.helpers.counting import RequestCounter
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")
OTHERS = 3


def xacct(*args: str) -> None:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output


def requests_of(counter: RequestCounter) -> dict:
    out = {}
    for command in ("verify", "doctor"):
        counter.take()
        xacct(command, "--name", "target")
        out[command] = counter.take()
    return out


def test_verify_and_doctor_cost_the_same_with_others_in_the_vpc(world, password, monkeypatch):
    counter = RequestCounter().install(monkeypatch)
    xacct(*world.setup_args("--enable-data-api", "--yes", name="target"))
    alone = requests_of(counter)
    for i in range(OTHERS):  # they join the target's endpoint and use its cluster
        xacct(*world.setup_args("--yes", name=f"other{i}"))
    crowded = requests_of(counter)
    assert sum(alone["verify"].values()) > 5 and sum(alone["doctor"].values()) > 10  # they did read AWS
    for command in ("verify", "doctor"):
        assert alone[command] == crowded[command], {
            op: (alone[command][op], crowded[command][op]) for op in set(alone[command]) | set(crowded[command])
            if alone[command][op] != crowded[command][op]}
