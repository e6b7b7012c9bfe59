"""Rebuild a deployment's resource list from AWS alone (read calls only), for a teardown whose state
file was lost. Everything xacct creates carries a deterministic name and the xacct:deployment tag; each
kind's resource type knows how to find it again (ResourceType.find: by name, or by tag for the key), judged by
the same ownership test that guards its deletion; the shared endpoint and the Data API switch are found by their
steps (Step.discover). Rows come in execution order, so plan_teardown can reverse them.

Not recoverable without the state file: which existing consumer role/user was adopted (its inline
policy `xacct-<name>-assume-data-api-access` is left in place and must be removed by hand). Whether xacct
turned the Data API on is: the cluster carries `xacct:data-api-enabled-by=<name>` from before the switch.
"""
from __future__ import annotations

from typing import Sequence

from botocore.exceptions import ClientError

from xacct_dataapi.aws import Sessions, is_not_found
from xacct_dataapi.config import TAG_DEPLOYMENT, Names
from xacct_dataapi.models import Account, Ref, Step
from xacct_dataapi.preflight import partition_for_region
from xacct_dataapi.resource_types import TYPES
from xacct_dataapi.resource_types.base import tagged_resources
from xacct_dataapi.state import ResourceRow, State
from xacct_dataapi.steps import registered, step_for_kind


class Finder:
    """What a step's discover() may use: the deployment's names, clients, and not-found-tolerant reads."""

    def __init__(self, aws: Sessions, name: str):
        self.aws, self.names = aws, Names(name)
        self._tagged: dict[tuple, dict] = {}  # one tag search per resource type (the key's and its aliases')

    def client(self, account: Account, service: str):
        return self.aws.client(account, service)

    @staticmethod
    def get(fn, *args, **kw):
        """fn(...), or None if AWS says the resource does not exist."""
        try:
            return fn(*args, **kw)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise

    def tagged(self, account: Account, resource_type: str, key: str = TAG_DEPLOYMENT) -> dict[str, dict[str, str]]:
        """ARN -> tags of each resource carrying this deployment's name in tag `key`, through the Resource Groups
        Tagging API, searched once per finder."""
        if (account, resource_type, key) not in self._tagged:
            self._tagged[(account, resource_type, key)] = tagged_resources(
                self.client(account, "resourcegroupstaggingapi"), resource_type, self.names.deployment, key)
        return dict(self._tagged[(account, resource_type, key)])

    def tagged_arns(self, account: Account, resource_type: str, key: str = TAG_DEPLOYMENT) -> set[str]:
        return set(self.tagged(account, resource_type, key))


class _Naming:
    """What a step's `desired()` may read when discovery asks which resources it names: the deployment's names, the
    accounts and region; every value an inspection would find is unknown (a Ref). A desired() that reads more (the
    configuration, the cluster) names nothing this way."""

    def __init__(self, names: Names, region: str, consumer: str, provider: str):
        self.names, self.region, self.partition = names, region, partition_for_region(region or "")
        self.consumer_account, self.provider_account = consumer, provider

    @staticmethod
    def known(key: str) -> Ref:
        return Ref(key)


def _named_by(steps: Sequence[Step], kind: str, naming: _Naming) -> dict[str, Step]:
    """Which of the steps declaring `kind` names which id of it, when more than one step declares the kind (two KMS
    aliases): a discovered row is attributed to the step whose declaration names it, as the executor records it."""
    named: dict[str, Step] = {}
    for step in (s for s in steps if kind in s.kinds):
        try:
            desired = step.desired(naming)
        except AttributeError:
            continue
        for r in desired:
            if r.kind == kind and isinstance(r.id, str):
                named.setdefault(r.id, step)
    return named


def discover(aws: Sessions, name: str, consumer_account: str, provider_account: str,
             steps: Sequence[Step] | None = None) -> State:
    state = State(name=name, region=aws.region, accounts={"consumer": consumer_account, "provider": provider_account},
                  profiles={"consumer": aws.consumer_profile, "provider": aws.provider_profile})
    find = Finder(aws, name)
    steps = registered() if steps is None else steps
    naming = _Naming(find.names, aws.region, consumer_account, provider_account)
    found: dict[str, list] = {}  # kind -> (id, arn): each kind's type asked once, however many steps declare it
    for step in steps:
        for kind in step.kinds:  # each kind's resource type finds its own (by name, or by tag), judged as ours
            rtype = TYPES.get(kind)
            if rtype is None:
                continue
            if kind not in found:
                found[kind] = rtype.find(find)
            shared = sum(kind in s.kinds for s in steps) > 1
            owner = _named_by(steps, kind, naming) if shared else {}
            mine = [(rid, arn) for rid, arn in found[kind] if owner.get(rid, step_for_kind(kind, steps)) is step]
            state.resources.extend(ResourceRow(step.number, kind, rid, rtype.account.value, arn=arn)
                                   for rid, arn in mine)
        if step.discover is not None:  # shared resources: the steps that share them know how to find them
            state.resources.extend(step.discover(find))
    return state
