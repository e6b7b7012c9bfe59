"""Two steps declare the KMS alias kind (the key step's own alias, and a step reusing the type): a row's step number
(ResourceRow.step) says which recorded it, and a state file is untrusted input. A row of the key step's own alias
edited to carry the other step's number must not make that step take it for its own, no longer desired, and delete
the alias the key step still wants."""
from __future__ import annotations

from tests.steps.test_registry import (  # noqa: F401 (fixtures)
    OWN_ALIAS, REPORTING_ALIAS, operators, reporting, step10, target,
)
from tests.steps.test_steps_moto import Deployment
from xacct_dataapi import state as state_mod


def test_a_row_renumbered_to_the_other_step_is_not_deleted_as_no_longer_desired(reporting, operators, password):
    dep = Deployment(operators, password)
    dep.apply()
    kms = operators.provider.client("kms")
    key_id = dep.load().find("kms_key").id

    state = dep.load()
    state.find("kms_alias", OWN_ALIAS).step = 10  # edited: the key step's alias now claims the tenth step
    state_mod.save(state, dep.path)

    ctx, plan = dep.plan()
    assert "kms:delete_alias" not in [c.label for c in step10(plan).calls], step10(plan).calls
    dep.apply(ctx, plan)
    assert target(kms, OWN_ALIAS) == key_id and target(kms, REPORTING_ALIAS) == key_id
    assert {r.id for r in dep.load().resources if r.kind == "kms_alias"} == {OWN_ALIAS, REPORTING_ALIAS}
