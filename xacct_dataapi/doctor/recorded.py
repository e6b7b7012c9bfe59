"""Doctor's check of each recorded resource whose kind the chain does not read itself: a resource type added
after the chain's links were written (ResourceType.doctor_link is None). Its check is the type's own read and
ownership test, the one that guards its delete: the resource exists and AWS shows it is this deployment's."""
from __future__ import annotations

from xacct_dataapi.config import Names
from xacct_dataapi.doctor.chain import Chain
from xacct_dataapi.doctor.model import FAIL, OK, SKIPPED, Check
from xacct_dataapi.errors import error_message
from xacct_dataapi.models import Account
from xacct_dataapi.parallel import gather
from xacct_dataapi.resource_types import TYPES


def recorded_checks(chain: Chain) -> list[Check]:
    if chain.state is None or not chain.deployment:
        return []
    rows = [(row, TYPES[row.kind]) for row in chain.state.resources
            if row.kind in TYPES and TYPES[row.kind].guarded and TYPES[row.kind].doctor_link is None]
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
