"""Doctor's check of each recorded resource the chain does not read itself: a resource type added after the
chain's links were written (ResourceType.doctor_link is None), or a row of a chain's kind that another step recorded.
Its check is the type's own read and ownership test, the one that guards its delete: the resource exists and AWS
shows it is this deployment's."""
from __future__ import annotations

from xacct_dataapi.config import Names
from xacct_dataapi.doctor.chain import Chain
from xacct_dataapi.doctor.model import FAIL, OK, SKIPPED, Check
from xacct_dataapi.errors import error_message
from xacct_dataapi.models import Account
from xacct_dataapi.parallel import gather
from xacct_dataapi.resource_types import TYPES
from xacct_dataapi.steps import step_for_kind, step_for_row


def _read_by_chain(row, rtype) -> bool:
    """The chain's link reads the rows of its kind that the kind's first step records (the deployment's own KMS
    alias); a row of that kind another step recorded (a second alias, steps.step_for_row) it does not."""
    if rtype.doctor_link is None:
        return False
    try:
        return step_for_row(row).key == step_for_kind(row.kind).key
    except KeyError:  # a kind no registered step declares: nothing but its type can check it
        return False


def recorded_checks(chain: Chain) -> list[Check]:
    if chain.state is None or not chain.deployment:
        return []
    rows = [(row, TYPES[row.kind]) for row in chain.state.resources
            if row.kind in TYPES and TYPES[row.kind].guarded and not _read_by_chain(row, TYPES[row.kind])]
    names = Names(chain.deployment)
    results = gather(*(lambda row=row, t=t: t.ownership(chain.aws.client(Account(row.account), t.service), row,
                                                         names.deployment) for row, t in rows))
    out = []
    for (row, t), (verdict, error) in zip(rows, results):
        cid, link = f"{row.kind}.ours", t.noun
        if error is not None:
            out.append(Check(cid, link, row.account, SKIPPED, f"cannot read {t.noun} {row.id}: {error_message(error)}"))
        elif verdict.ours:
            out.append(Check(cid, link, row.account, OK, f"{t.noun} {row.id}: {verdict.why}"))
        else:
            out.append(Check(cid, link, row.account, FAIL, f"{t.noun} {row.id}: {verdict.why}", chain.setup_fix()))
    return out
