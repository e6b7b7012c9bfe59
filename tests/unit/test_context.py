"""The inputs are resolved once into a frozen value; values no step can read from AWS are made by the planner, once,
after the inspections (Step.generates), and never by reading an attribute."""
from __future__ import annotations

import dataclasses
import re

import pytest

from tests.unit.test_planner import make_ctx
from xacct_dataapi.context import Context, Inputs, InputsInFlight
from xacct_dataapi.errors import UsageError
from xacct_dataapi.models import Ref
from xacct_dataapi.parallel import Pending
from xacct_dataapi.planner import generate_missing_values
from xacct_dataapi.steps import STEPS, access_role


def test_inputs_are_frozen_and_read_without_attribute_magic():
    ctx = make_ctx()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.inputs.cluster = None
    assert Context.__getattribute__ is object.__getattribute__
    assert ctx.cluster is ctx.inputs.cluster and ctx.consumer_account == ctx.inputs.consumer_account


def test_a_new_external_id_is_made_once_by_the_planner_and_shown_as_a_ref():
    ctx = make_ctx()  # as plan_setup leaves it: generate_missing_values has run
    made = ctx.values["external_id"]
    assert re.fullmatch(r"xacct-[0-9a-f]{32}", made) and ctx.generated == {"external_id"}
    generate_missing_values(ctx, STEPS)
    assert ctx.values["external_id"] == made  # not made again
    (role, _) = access_role.STEP.desired(ctx)
    trust = role.documents["access_role_trust"]
    assert Ref("external_id") in [s["Condition"]["StringEquals"]["sts:ExternalId"] for s in trust["Statement"]]


def test_a_recorded_external_id_is_used_as_it_is():
    ctx = make_ctx(values={"external_id": "xacct-recorded"})
    assert ctx.values["external_id"] == "xacct-recorded" and ctx.generated == frozenset()
    assert ctx.external_id_param() == "xacct-recorded"


def test_resolving_the_lookups_raises_the_first_problem_in_the_order_of_a_one_by_one_check():
    def fails(message):
        def run():
            raise UsageError(message)
        return Pending(run)

    ok = make_ctx().inputs
    lookups = {"consumer_account": Pending(lambda: ok.consumer_account),
               "provider_account": Pending(lambda: ok.provider_account),
               "cluster": fails("the cluster"), "vpc_cidrs": Pending(lambda: [ok.vpc_cidr]),
               "vpc_cidr": Pending(lambda: ok.vpc_cidr), "gone": Pending(lambda: []), "principal": fails("the principal")}
    with pytest.raises(UsageError, match="the cluster"):
        InputsInFlight(lookups).resolve()
    lookups["cluster"] = Pending(lambda: ok.cluster)
    with pytest.raises(UsageError, match="the principal"):
        InputsInFlight(lookups).resolve()
    lookups["principal"] = Pending(lambda: ok.principal)
    resolved = InputsInFlight(lookups).resolve()
    assert isinstance(resolved, Inputs) and resolved.vpc_cidrs == (ok.vpc_cidr,) and resolved.gone == ()
