"""`xacct export`: the deployment as infrastructure as code (CloudFormation templates, YAML or JSON).

Read-only: it loads the state file and rebuilds the Context from what setup recorded there (no AWS call,
no credentials), or, for a state file without those records or when a profile is given, with the same
read-only preflight `status` uses. It writes DIR/provider.<ext>, DIR/consumer.<ext> and DIR/README.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xacct_dataapi.aws import Sessions
from xacct_dataapi.config import Config
from xacct_dataapi.context import Cluster, ConsumerPrincipal, Context, Inputs, build_context
from xacct_dataapi.errors import StateError, UsageError
from xacct_dataapi.export import cloudformation, emit, readme
from xacct_dataapi.state import State

FORMATS = {"cloudformation": ("yaml", emit.to_yaml), "json": ("json", emit.to_json)}


def config_of(state: State, aws: Sessions) -> Config:
    """The deployment's Config from its state file; the state's own name is the one its resources carry."""
    return Config.from_json({**state.config, "name": state.name}, consumer_profile=aws.consumer_profile,
                            provider_profile=aws.provider_profile, region=aws.region)


# What setup records (context.build_context) that lets export rebuild the context without AWS.
RECORDED = ("cluster_arn", "cluster_engine", "cluster_endpoint", "cluster_port", "vpc_cidr", "consumer_principal_arn")


@dataclass
class NoAws:
    """Stands in for Sessions when the context comes from the state file: the region, and no clients."""

    region: str
    consumer_profile: str | None = None
    provider_profile: str | None = None

    def client(self, account, service):
        raise AssertionError(f"export from the recorded facts makes no AWS call ({service})")


def recorded_context(state: State) -> Context | None:
    """The context as setup saw it, from the state file alone; None if the state predates these records."""
    v = state.values
    accounts = state.accounts or {}
    if not (state.region and accounts.get("consumer") and accounts.get("provider")) or \
            any(v.get(k) is None for k in RECORDED):
        return None
    aws = NoAws(state.region, state.profiles.get("consumer"), state.profiles.get("provider"))
    cfg = config_of(state, aws)
    cluster = Cluster(id=cfg.cluster_id, arn=v["cluster_arn"], engine=v["cluster_engine"],
                      engine_mode=v.get("cluster_engine_mode") or "provisioned", endpoint=v["cluster_endpoint"],
                      port=int(v["cluster_port"]), database=v.get("cluster_database"), http_endpoint_enabled=True)
    arn = v["consumer_principal_arn"]
    principal = ConsumerPrincipal("role" if cfg.consumer_role else "user", arn.rsplit("/", 1)[-1], arn,
                                  adopted=bool(cfg.consumer_role or cfg.consumer_user))
    inputs = Inputs(accounts["consumer"], accounts["provider"], cluster, v["vpc_cidr"], principal)
    return Context(cfg, aws, state, inputs, _no_password, values=dict(v))


def _no_password() -> str:
    raise AssertionError("export never reads the database password")


def context_from_state(state: State, state_path: Path, consumer_profile: str | None,
                       provider_profile: str | None) -> Context:
    """From the state file alone when it records everything (no credentials needed); otherwise, or when a
    profile is given, through the same read-only preflight as `status`."""
    if not state.config.get("cluster"):
        raise StateError(f"State file {state_path} records no configuration.", "Run `xacct setup` again to complete it.")
    if consumer_profile is None and provider_profile is None:
        recorded = recorded_context(state)
        if recorded is not None:
            return recorded
    aws = Sessions.from_profiles(
        consumer_profile if consumer_profile is not None else state.profiles.get("consumer"),
        provider_profile if provider_profile is not None else state.profiles.get("provider"),
        state.region)
    return build_context(config_of(state, aws), aws, state, _no_password, check_data_api=False)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not supported.",
                         "Use --format cloudformation (YAML templates) or --format json (the same templates as JSON).")


def write(ctx: Context, out: Path, *, fmt: str = "cloudformation", consumers_from: str | None = None) -> list[Path]:
    """Write the templates and the README; return every path written, in order."""
    _check_format(fmt)
    consumers = cloudformation.Consumers.parse(consumers_from)
    docs = cloudformation.templates(ctx, consumers)
    ext, dump = FORMATS[fmt]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for side, doc in docs.items():
        path = out / f"{side}.{ext}"
        path.write_text(dump(doc))
        written.append(path)
    path = out / "README.md"
    path.write_text(readme.render(ctx, docs, consumers, ext))
    written.append(path)
    return written


def export(state_path: Path, out: Path, *, fmt: str = "cloudformation", consumers_from: str | None = None,
           consumer_profile: str | None = None, provider_profile: str | None = None) -> list[Path]:
    from xacct_dataapi import state as state_mod

    _check_format(fmt)  # bad flags fail before any AWS call
    cloudformation.Consumers.parse(consumers_from)
    state = state_mod.open_recorded(state_path)
    ctx = context_from_state(state, state_path, consumer_profile, provider_profile)
    return write(ctx, out, fmt=fmt, consumers_from=consumers_from)
