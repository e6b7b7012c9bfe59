"""What `xacct sandbox up` tells the operator: lines that run as printed, from the folder it was started in.

`xacct` is often not on PATH (`make demo` and `make install` put it in .venv/bin), so the lines name the xacct that
is running; they pass --name (without it setup makes `default`); and they name the consumer account's second VPC
(its default VPC, which moto makes as AWS does) for trying a move.
"""
from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from xacct_dataapi.sandbox.info import SandboxInfo, botocore_session, client_config
from xacct_dataapi.sandbox.operators import default_vpc

if TYPE_CHECKING:
    from xacct_dataapi.terminal import Terminal

NAME = "sandbox"  # the deployment name the printed lines use


def xacct_command(cwd: Path | None = None) -> str:
    """How to run this xacct from `cwd`: `xacct` if PATH finds this one, else its path (`.venv/bin/xacct` from the
    project folder, else the full path)."""
    here = Path(sys.executable).with_name("xacct")
    if not here.exists():
        return f"{shlex.quote(sys.executable)} -m xacct_dataapi"
    on_path = shutil.which("xacct")
    if on_path and Path(on_path).resolve() == here.resolve():
        return "xacct"
    try:
        relative = os.path.relpath(here, cwd or Path.cwd())
    except ValueError:  # another drive
        relative = os.pardir
    return shlex.quote(str(here) if relative.startswith(os.pardir) else relative)


def second_vpc(info: SandboxInfo) -> tuple[str, str, tuple[str, ...]] | None:
    """The consumer account's default VPC (id, CIDR, a subnet in each of two AZs), or None if there is none."""
    session = botocore_session(info.config_file, info.credentials_file, info.consumer_profile)
    ec2 = session.create_client("ec2", region_name=info.region, endpoint_url=info.endpoint_url, config=client_config())
    vpc = default_vpc(ec2)
    if vpc is None:
        return None
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in sorted(subnets, key=lambda s: s["SubnetId"])}
    picked = tuple(by_zone[zone] for zone in sorted(by_zone)[:2])
    return (vpc["VpcId"], vpc["CidrBlock"], picked) if len(picked) == 2 else None


def operator_exports(info: SandboxInfo) -> dict[str, str]:
    """The operator shell's exports: the sandbox's profiles, and AWS_ENDPOINT_URL because a profile the operator adds
    (`xacct connect --write`'s role profile, a credentials-only profile for the user xacct made) has no endpoint_url
    of its own: without it, its first call (STS, to assume the role) would leave the machine for real AWS."""
    return {**info.env(), "AWS_ENDPOINT_URL": info.endpoint_url}


def print_instructions(ui: Terminal, info: SandboxInfo, sql_shell: str) -> None:
    xacct = xacct_command()
    ui.print("Point your shell at it (the operator, outside the VPC: requests carry no aws:SourceVpce; "
             "AWS_ENDPOINT_URL keeps a profile you add, such as the one `xacct connect --write` writes, here too):")
    for k, v in operator_exports(info).items():
        ui.print(f"  export {k}={shlex.quote(v)}", soft_wrap=True)
    ui.print(f"An application inside the consumer VPC ({info.vpc_id}) adds this: its rds-data calls go through the "
             "VPC's rds-data endpoint (once setup made one), which checks its security group and policy and sets "
             "aws:SourceVpce:")
    inside = info.inside_vpc_env()
    for k in sorted(set(inside) - set(info.env())):
        ui.print(f"  export {k}={shlex.quote(inside[k])}", soft_wrap=True)
    ui.print("Every request is authorised as AWS would (identity, trust, key, secret and endpoint policies): "
             "docs/sandbox.md.")
    password = (f"XACCT_DB_PASSWORD=\"$(cat {shlex.quote(info.db_password_file)})\"" if info.db_password_file
                else "XACCT_DB_PASSWORD=demo-only-password")
    ui.print(f"Then, in that shell, from this folder (deployment {NAME!r}):")
    ui.print(f"  {password} {info.setup_command(name=NAME, xacct=xacct)} --yes", soft_wrap=True)
    ui.print(f"  {xacct} status --name {NAME}", soft_wrap=True)
    ui.print(f"  {xacct} connect --name {NAME}", soft_wrap=True)
    other = second_vpc(info)
    if other is not None:
        vpc, cidr, subnets = other
        ui.print(f"To try a move: the consumer account's second VPC is its default VPC {vpc} ({cidr}); the plan "
                 "replaces the endpoint and its group there:")
        ui.print(f"  {xacct} setup --name {NAME} --vpc {vpc} --subnets {','.join(subnets)} --dry-run", soft_wrap=True)
    if sql_shell:
        ui.print(f"A SQL shell on the cluster's PostgreSQL (as {info.db_user}, database app):")
        ui.print(f"  {sql_shell}", soft_wrap=True)
    ui.print("When done:")
    ui.print(f"  {xacct} teardown --name {NAME} --yes", soft_wrap=True)
