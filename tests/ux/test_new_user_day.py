"""What a first-time operator tripped over (issue "a new user's day"), each reproduced as the trial did it."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.accounts import STATE
from tests.helpers.operators import grant
from xacct_dataapi.cli import cli

pytestmark = pytest.mark.usefixtures("fast_aws")


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def without_consumer_profile(args: list[str]) -> list[str]:
    i = args.index("--consumer-profile")
    return args[:i] + args[i + 2:]


def test_the_recorded_consumer_profile_beats_an_ambient_aws_profile(world, password, monkeypatch):
    """The AWS_PROFILE trap: setup ran with the consumer's credentials from AWS_PROFILE; later the operator
    `eval`s `connect --format env` (AWS_PROFILE=xacct-NAME, whose role lives in the provider account) and re-runs
    `setup --name NAME`: the re-run must use the recorded consumer profile, not the ambient one."""
    monkeypatch.setenv("AWS_PROFILE", "consumer")
    res = invoke(without_consumer_profile(world.setup_args("--enable-data-api", "--yes")))
    assert res.exit_code == 0, res.output
    assert json.loads(Path(STATE).read_text())["profiles"]["consumer"] == "consumer"

    monkeypatch.setenv("AWS_PROFILE", "provider")  # a profile in the other account, as xacct-NAME would be
    res = invoke(["setup", "--name", "default", "--yes"])
    assert res.exit_code == 0, res.output
    res = invoke(["status", "--name", "default", "--output", "json"])
    assert res.exit_code == 0, res.output

    res = invoke(["setup", "--name", "default", "--consumer-profile", "provider", "--yes"])  # a flag still wins
    assert res.exit_code == 2 and "both" in " ".join(res.output.split())


@pytest.mark.parametrize("command", [["status"], ["doctor"], ["connect"], ["verify"], ["export", "--out", "x"],
                                     ["teardown", "--yes"]])
def test_a_command_without_name_names_the_deployments_that_exist(world, password, command):
    """Only `orders` exists; a command without --name looks for `default` and says which ones there are."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    res = CliRunner().invoke(cli, command)
    text = " ".join(res.output.split())
    assert res.exit_code == 2, text
    assert "default.json" in text and "Deployments there: orders. Pass --name orders (the only one)." in text


def test_permissions_for_a_recorded_deployment_fill_every_placeholder(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    for side in ("provider", "consumer"):
        res = invoke(["permissions", "--side", side, "--name", "orders", "--output", "json"])
        assert res.exit_code == 0, res.output
        text = res.stdout
        for placeholder in ("REGION", "PROVIDER", "CONSUMER", "CLUSTER_ID", "VPC_ID"):
            assert placeholder not in text, (side, placeholder)
        assert "us-west-2" in text
    res = invoke(["permissions", "--side", "consumer", "--name", "orders", "--vpc", "vpc-0123456789abcdef0",
                  "--output", "json"])
    assert "vpc-0123456789abcdef0" in res.stdout and world.vpc_id not in res.stdout  # a flag still wins


def test_teardown_removes_only_the_profile_connect_wrote_for_it(world, password):
    config = Path(os.environ["AWS_CONFIG_FILE"])  # the test's own config, with the accounts' profiles
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="billing")).exit_code == 0
    for name in ("orders", "billing"):
        res = invoke(["connect", "--name", name, "--format", "profile", "--source-profile", "consumer", "--write"])
        assert res.exit_code == 0, res.output
    before = config.read_text()
    assert "[profile xacct-orders]" in before and "[profile xacct-billing]" in before

    res = invoke(["teardown", "--name", "orders", "--yes"])
    assert res.exit_code == 0, res.output
    after = config.read_text()
    assert "[profile xacct-orders]" not in after and "[profile xacct-billing]" in after
    assert "[profile consumer]" in after and "Removed [profile xacct-orders]" in " ".join(res.output.split())


def test_list_counts_a_shared_endpoint_once(world, password):
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="billing")).exit_code == 0
    res = invoke(["list", "--output", "json"])
    by_name = {d["name"]: d for d in json.loads(res.stdout)}
    costs = sorted(d["monthly_cost"]["usd_per_month"] for d in by_name.values())
    assert costs == [1.40, 16.00], costs  # one endpoint (2 AZ × 730 h × $0.01) in all, plus a key and a secret each
    first, second = sorted(by_name.values(), key=lambda d: d["monthly_cost"]["usd_per_month"], reverse=True)
    assert first["endpoint_shared_with"] == [second["name"]]
    assert second["monthly_cost"]["endpoint_counted_with"] == first["name"]


def test_teardown_reports_what_it_kept_for_other_deployments(world, password):
    """Two deployments share the endpoint, its group and the cluster's Data API: the first one out reports each as kept,
    not as already gone (they all still exist, for the other deployment)."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="billing")).exit_code == 0
    res = invoke(["teardown", "--name", "billing", "--yes", "--output", "json"])
    assert res.exit_code == 0, res.output
    outcome = {r["kind"]: r["outcome"] for r in json.loads(res.stdout)["result"]["removed"]}
    assert {outcome[k] for k in ("vpc_endpoint", "security_group", "data_api")} == {"kept for other deployments"}
    assert outcome["iam_role"] == outcome["secret"] == "deleted"



def test_teardown_progress_says_kept_for_shared_resources(world, password):
    """The progress lines too (not only the summary): the endpoint the other deployment still uses is "kept for other
    deployments", never "nothing to do (already done or already gone)"."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="billing")).exit_code == 0
    res = invoke(["teardown", "--name", "billing", "--yes"])
    assert res.exit_code == 0, res.output
    # One event per paragraph: a line, and the lines indented under it that continue it at 80 columns.
    lines = [" ".join(event.split()) for event in re.split(r"\n(?!      )", res.output)]
    endpoint = [line for line in lines if "delete endpoint" in line and "·" in line]
    assert endpoint and all("kept for other deployments (shared with 1 other deployment(s))" in line
                            for line in endpoint), lines
    assert not any("already gone" in line for line in endpoint), endpoint


# --- 80 columns: no id or ARN split, none cut ---------------------------------------------------------------------

ID_PREFIXES = ("arn:", "vpc-", "vpce-", "subnet-", "sg-", "xacct-")
PUNCTUATION = "()[]{},;:.'\"`│┃"


def ids_recorded(*names: str) -> set[str]:
    """Every id and ARN the state files hold (resources and values): what the operator copies from the output."""
    found: set[str] = set()
    for name in names:
        doc = json.loads(Path(f".xacct/{name}.json").read_text())
        values = [r["id"] for r in doc["resources"]] + [v for v in doc["values"].values() if isinstance(v, str)]
        found |= {v for v in values if v.startswith(ID_PREFIXES) or re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", v)}
    return found


def split_ids(text: str, ids: set[str]) -> list[str]:
    """Words that are the first part of an id but not the id: what a hard wrap inside the id leaves at a line's end."""
    words = {w.strip(PUNCTUATION) for line in text.splitlines() for w in line.split()}
    names = ids | {part for i in ids for part in re.split(r"[/:]", i)}  # `role/NAME`, `NAME/POLICY`: names of their own
    return sorted(w for w in words if len(w) >= 6 and w not in names and any(i.startswith(w) for i in ids))


def too_wide(text: str) -> list[str]:
    """Lines wider than 80 columns, other than one id alone on its line (or `[n] id` under a table)."""
    return [line for line in text.splitlines()
            if len(line) > 80 and len(line.split()) > (2 if line.startswith("[") else 1)]


def test_at_80_columns_every_id_and_arn_is_whole_on_one_line(world, password, monkeypatch):
    """The trial at COLUMNS=80: tables hard-wrapped ARNs and ids mid-token (`…xacct-defaul` / `t-data-api-access`,
    `vpc-ec13c95f` / `d7d50a431`), doctor split ARNs over three lines, the cost line did not wrap at all."""
    monkeypatch.setenv("COLUMNS", "80")
    for name in ("orders", "billing"):
        assert invoke(world.setup_args("--enable-data-api", "--yes", name=name)).exit_code == 0
    ids = ids_recorded("orders", "billing")
    assert any(i.startswith("arn:") and len(i) > 80 for i in ids) or len(ids) > 10
    vpc, subnets = world.second_vpc()
    grant(world, vpcs=(world.vpc_id, vpc))  # `xacct permissions --vpc VPC_A,VPC_B`: the operator may plan the move
    runs = {
        "plan (new)": world.setup_args("--enable-data-api", "--dry-run", name="reports"),
        "plan (move)": world.args_in(world.setup_args("--dry-run", name="orders"), vpc, subnets),
        "status": ["status", "--name", "orders"],
        "status --graph": ["status", "--name", "orders", "--graph"],
        "doctor": ["doctor", "--name", "orders"],
        "list": ["list"],
        "teardown plan": ["teardown", "--name", "orders", "--dry-run"],
    }
    for what, args in runs.items():
        res = CliRunner().invoke(cli, args)
        assert res.exit_code in (0, 1), (what, res.output)
        assert not split_ids(res.output, ids), (what, split_ids(res.output, ids), res.output)
        assert not too_wide(res.stdout), (what, too_wide(res.stdout))
    shown = CliRunner().invoke(cli, ["status", "--name", "orders"]).output
    for value in ("secret_arn", "access_role_arn"):
        arn = json.loads(Path(".xacct/orders.json").read_text())["values"][value]
        assert any(arn in line for line in shown.splitlines()), (value, arn)
    cost = [line for line in invoke(runs["plan (new)"]).output.splitlines() if "≈" in line or "list prices" in line]
    assert cost and all(len(line) <= 80 for line in cost), cost  # the cost line wraps (at spaces)
    doc = json.loads(invoke(["status", "--name", "orders", "--output", "json"]).stdout)  # JSON: one document, unwrapped
    assert doc["handoff"]["role_arn"] in ids


# --- the plan counts replacements and names what changes ----------------------------------------------------------

def what_and_why(plan: str) -> str:
    """The plan table's last column, its lines joined: what the operator reads for each step."""
    return " ".join(line.split("│")[-2].strip() for line in plan.splitlines() if line.startswith("│"))


def test_the_plan_counts_a_replacement_and_shows_what_changed_on_stdout(world, password):
    """The trial's VPC move said "0 step(s) to create, 0 to repair, 8 unchanged" and put "Changed since the last setup"
    on stderr, away from the plan."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    vpc, subnets = world.second_vpc()
    grant(world, vpcs=(world.vpc_id, vpc))  # `xacct permissions --vpc VPC_A,VPC_B`: the operator may plan the move
    move = world.args_in(world.setup_args("--dry-run", name="orders"), vpc, subnets)
    res = invoke(move)
    plan = " ".join(res.stdout.split())
    assert "1 to replace" in plan and f"Changed since the last setup: --vpc: {world.vpc_id} -> {vpc}" in plan, plan
    doc = json.loads(invoke([*move, "--output", "json"]).stdout)
    assert doc["counts"]["replace"] == 1 and doc["changed_inputs"][0] == f"--vpc: {world.vpc_id} -> {vpc}"
    assert {"steps", "execution_order", "changes", "monthly_cost", "accounts"} <= set(doc)  # the shape, extended only


def test_the_plan_names_each_subnet_and_cidr_it_changes_and_a_new_cidr_lands(world, password):
    """"endpoint differs: RemoveSubnetIds" named no subnet; "ingress tcp/443 A, B rule is missing" named every CIDR;
    and the repair re-sent every CIDR, which AWS refuses whole (InvalidPermission.Duplicate), so the new one never
    landed and every re-run planned it again."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    keep, drop = world.subnet_ids
    res = invoke(["setup", "--name", "orders", "--subnets", keep, "--dry-run"])
    assert f"endpoint differs: removes subnet {drop}" in what_and_why(res.stdout), res.stdout

    res = invoke(["setup", "--name", "orders", "--client-cidr", "10.20.5.0/24", "--dry-run"])
    plan = what_and_why(res.stdout)
    assert "ingress rule tcp 443 10.20.5.0/24 is missing" in plan and "10.20.0.0/16 is missing" not in plan, plan
    assert invoke(["setup", "--name", "orders", "--client-cidr", "10.20.5.0/24", "--yes"]).exit_code == 0
    sg_id = next(r["id"] for r in json.loads(Path(".xacct/orders.json").read_text())["resources"]
                 if r["kind"] == "security_group")
    group = world.consumer.client("ec2").describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]
    for rules in (group["IpPermissions"], group["IpPermissionsEgress"]):
        assert sorted(r["CidrIp"] for p in rules for r in p["IpRanges"]) == ["10.20.0.0/16", "10.20.5.0/24"]
    res = invoke(["setup", "--name", "orders", "--dry-run", "--output", "json"])
    assert json.loads(res.stdout)["changes"] is False  # converged: nothing left to do


def test_connect_says_which_way_this_shell_reaches_the_data_api_in_the_sandbox(world, password, monkeypatch):
    """The sandbox tells inside from outside the VPC by AWS_ENDPOINT_URL_RDS_DATA (`…/_vpc/VPC/ADDRESS`, as `sandbox
    up` prints it): connect says which one this shell is; against anything else it claims nothing."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0

    def network_path() -> str:
        res = invoke(["connect", "--name", "orders", "--format", "json"])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)["network_path"]

    assert "this shell" not in network_path()  # plain AWS profiles: xacct cannot see the network a call leaves from
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", f"http://127.0.0.1:4566/_vpc/{world.vpc_id}/10.20.1.10")
    assert f"In this shell (the sandbox): inside {world.vpc_id}, as 10.20.1.10" in network_path()
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", "http://127.0.0.1:4566/_vpc/vpc-0other/10.99.1.10")
    assert f"inside another VPC, vpc-0other (AWS_ENDPOINT_URL_RDS_DATA), so outside {world.vpc_id}" in network_path()
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", "http://127.0.0.1:4566")
    assert "In this shell (the sandbox): outside the VPC" in network_path()


def test_the_printed_snippets_say_what_to_install(world, password):
    """A new user's trial (2026-12-07): `connect --format python` in the venv `make demo` made failed with
    ModuleNotFoundError: aurora_data_api, which is not among xacct's dependencies. Each snippet names its packages
    (the pip names the test extra pins, pyproject.toml)."""
    assert invoke(world.setup_args("--enable-data-api", "--yes", name="orders")).exit_code == 0
    needs = {"python": "pip install boto3 aurora-data-api",
             "sqlalchemy": "pip install boto3 sqlalchemy sqlalchemy-aurora-data-api"}
    for fmt, line in needs.items():
        res = invoke(["connect", "--name", "orders", "--format", fmt])
        assert res.exit_code == 0, res.output
        assert f"# Needs: {line} " in res.stdout.splitlines()[1] + " ", res.stdout
