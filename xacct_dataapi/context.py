"""Context: the validated config plus what AWS says about the inputs (accounts, cluster, VPC, principal).

The reads themselves are preflight.py's: read calls only, and every problem they find is a usage error (exit 2):
nothing has been created yet, so the operator fixes the input and re-runs. start_context starts them all at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from xacct_dataapi import aws_reads
from xacct_dataapi.aws import Sessions
from xacct_dataapi.config import Config
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Account, Ref, Sensitive
from xacct_dataapi.policies import partition_of
from xacct_dataapi.parallel import Pending
from xacct_dataapi.state import State
from xacct_dataapi.preflight import (  # noqa: F401  (the facts types, and the reads other modules take from here)
    Cluster, ConsumerPrincipal, check_accounts, check_data_api_support, check_endpoint_service, describe_cluster,
    describe_network, describe_principal, endpoint_service_proven, partition_for_region, principal_identity,
)


@dataclass(frozen=True)
class Inputs:
    """Everything preflight resolved from AWS about the operator's inputs (accounts, cluster, VPC, principal): read
    once, never changed. `gone`: recorded inputs (the VPC, a subnet) that no longer exist (status reports them)."""

    consumer_account: str
    provider_account: str
    cluster: Cluster
    vpc_cidr: str | None  # the primary block; None only when the recorded VPC is gone (status)
    principal: ConsumerPrincipal
    vpc_cidrs: tuple[str, ...] = ()  # every associated IPv4 block of the VPC, primary first
    gone: tuple[str, ...] = ()

    def get(self, name: str) -> Any:
        return getattr(self, name)


# The order a one-by-one check meets the inputs' problems: the first of them is the one reported.
_CHECK_ORDER = ("consumer_account", "provider_account", "cluster", "vpc_cidrs", "vpc_cidr", "gone",
                "endpoint_service", "principal")


class InputsInFlight:
    """preflight's lookups, all started at once (start_context): `get(name)` waits for that one only, so each step
    inspection waits only for what it reads; `resolve()` waits for all and returns the Inputs, raising the first
    problem in _CHECK_ORDER."""

    def __init__(self, lookups: dict[str, Pending]):
        self._lookups = lookups

    def get(self, name: str) -> Any:
        return self._lookups[name].get()

    def resolve(self) -> Inputs:
        got = {name: self.get(name) for name in _CHECK_ORDER if name in self._lookups}
        got.pop("endpoint_service", None)  # a check only: it raises or returns nothing
        return Inputs(**{**got, "vpc_cidrs": tuple(got["vpc_cidrs"] or ()), "gone": tuple(got["gone"] or ())})


@dataclass
class Context:
    """What a step needs to know: the validated config, the Inputs (or, right after start_context, the lookups that
    make them, still running), and the values known so far (from the state, then from the inspections). `generated`
    names the values this run made up (the planner, from Step.generates): a document shows such a value as a Ref,
    so a dry run shows no value the real run would not use."""

    cfg: Config
    aws: Sessions
    state: State
    inputs: Inputs | InputsInFlight
    password: Callable[[], str] = field(default=lambda: "")
    values: dict[str, Any] = field(default_factory=dict)  # known values: state + what inspect found
    generated: frozenset[str] = frozenset()

    def _input(self, name: str) -> Any:
        return self.inputs.get(name)

    consumer_account = property(lambda self: self._input("consumer_account"))
    provider_account = property(lambda self: self._input("provider_account"))
    cluster = property(lambda self: self._input("cluster"))
    vpc_cidr = property(lambda self: self._input("vpc_cidr"))
    vpc_cidrs = property(lambda self: list(self._input("vpc_cidrs")))
    gone = property(lambda self: list(self._input("gone")))
    principal = property(lambda self: self._input("principal"))

    def settle(self) -> "Context":
        """Wait for every preflight lookup and raise the first problem (InputsInFlight.resolve); then record what
        they found among the values."""
        if isinstance(self.inputs, Inputs):
            return self
        self.inputs = self.inputs.resolve()
        cluster = self.cluster
        self.values.setdefault("cluster_arn", cluster.arn)
        self.values["consumer_principal_arn"] = self.principal.arn
        # Setup records these with the other values, so a reader of the state (export) can rebuild the context offline.
        self.values.update({"cluster_engine": cluster.engine, "cluster_endpoint": cluster.endpoint,
                            "cluster_port": cluster.port, "cluster_database": cluster.database, "vpc_cidr": self.vpc_cidr})
        return self

    @property
    def client_cidrs(self) -> list[str]:
        """Where the application's calls come from: every CIDR block of the VPC, plus --client-cidr (peered VPCs,
        on premises), each once."""
        found = [*(self.vpc_cidrs or ([self.vpc_cidr] if self.vpc_cidr else [])), *self.cfg.client_cidrs]
        return list(dict.fromkeys(found))

    @property
    def region(self) -> str:
        return self.aws.region

    @property
    def partition(self) -> str:
        return partition_of(self.cluster.arn)

    @property
    def names(self):
        return self.cfg.names

    def client(self, account: Account, service: str):
        return self.aws.client(account, service)

    def known(self, key: str) -> Any:
        """The value if known now, else a Ref the runner resolves once an earlier call produced it."""
        value = self.values.get(key)
        return value if value is not None else Ref(key)

    def external_id(self) -> str:
        """The external id: recorded, found on the role by its inspection, or new (made by the planner,
        Step.generates); read only after the inspections."""
        return self.values["external_id"]

    def external_id_param(self) -> Any:
        """The external id for a document: a Ref while it is new, so a dry run shows no value the real run won't use."""
        return Ref("external_id") if "external_id" in self.generated else self.external_id()

    def secret_fields(self) -> dict:
        """The secret's content without the password, and a one-line summary of it."""
        cluster, cfg = self.cluster, self.cfg
        engine = "postgres" if "postgres" in cluster.engine else "mysql"
        dbname = cfg.db_name or cluster.database or ("postgres" if engine == "postgres" else "mysql")
        fields = {"username": cfg.db_user, "engine": engine, "host": cluster.endpoint, "port": cluster.port, "dbname": dbname}
        return {"fields": fields, "connection": f"{cfg.db_user}@{cluster.endpoint}:{cluster.port}/{dbname}"}

    def secret_string(self) -> Sensitive:
        fields = self.secret_fields()["fields"]

        def build() -> str:
            import json

            return json.dumps({"username": fields["username"], "password": self.password(), **{
                k: fields[k] for k in ("engine", "host", "port", "dbname")}})

        # A plan shows every key of the secret, with only the password masked.
        return Sensitive(build, preview={"username": fields["username"], "password": "********",
                                         **{k: fields[k] for k in ("engine", "host", "port", "dbname")}})


def start_context(cfg: Config, aws: Sessions, state: State, password: Callable[[], str], *,
                  check_data_api: bool = True, recorded: bool = False) -> Context:
    """A Context whose preflight lookups all start now, at once, and are read when first needed (Context.settle
    checks them all, in order). On real AWS each lookup costs a round trip; this way they, and the step inspections
    that start right after, cost about one.

    `recorded`: the inputs come from the state file (status), so a recorded VPC or subnet that no longer exists
    is drift to report (ctx.gone), not bad usage."""

    accounts = Pending(lambda: check_accounts(aws, state))
    subnets = Pending(lambda: aws_reads.subnets(aws, list(cfg.subnet_ids)))  # read once, for the network and service checks

    def cluster() -> Cluster:
        found = describe_cluster(aws, cfg, lambda: accounts.get()[1])
        if check_data_api and not found.http_endpoint_enabled and cfg.enable_data_api:
            check_data_api_support(aws, found)
        if check_data_api and not found.http_endpoint_enabled and not cfg.enable_data_api:
            raise UsageError(
                f"The Data API is off on cluster {found.id}.",
                "Re-run with --enable-data-api to have xacct turn it on (and off again at teardown), "
                f"or turn it on yourself: `aws rds enable-http-endpoint --resource-arn {found.arn}`.",
            )
        return found

    def network() -> tuple[list[str], list[str]]:
        try:
            return describe_network(aws, cfg, lambda: accounts.get()[0], subnets.get), []
        except UsageError as exc:
            if not recorded:
                raise
            return [], [exc.message]

    network_r = Pending(network)
    lookups = {
        "consumer_account": Pending(lambda: accounts.get()[0]), "provider_account": Pending(lambda: accounts.get()[1]),
        "cluster": Pending(cluster), "vpc_cidrs": Pending(lambda: network_r.get()[0]),
        "vpc_cidr": Pending(lambda: (network_r.get()[0] or [None])[0]), "gone": Pending(lambda: network_r.get()[1]),
        "principal": Pending(lambda: describe_principal(aws, cfg, lambda: accounts.get()[0],
                                                        partition_for_region(aws.region)))}
    if not endpoint_service_proven(cfg, state, aws.region):
        lookups["endpoint_service"] = Pending(lambda: check_endpoint_service(aws, cfg, subnets.get))
    return Context(cfg, aws, state, InputsInFlight(lookups), password, values=dict(state.values))


def build_context(cfg: Config, aws: Sessions, state: State, password: Callable[[], str], *,
                  check_data_api: bool = True, recorded: bool = False) -> Context:
    """start_context, then wait for every lookup (the first problem raised, in order)."""
    return start_context(cfg, aws, state, password, check_data_api=check_data_api, recorded=recorded).settle()
