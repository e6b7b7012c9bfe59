"""Resource types: one per kind of state-file row that xacct can delete, each able to read its resource and say
whether AWS shows it is a given deployment's (base.py says why that guards every delete).

Kinds with no type here make no AWS change at teardown: a policy that goes with its resource (key policy, secret
policy) or an adopted consumer principal, which xacct only forgets."""
from __future__ import annotations

from typing import Iterable

from xacct_dataapi.parallel import gather
from xacct_dataapi.resource_types import db, ec2, iam, iam_policy, kms, rds, secrets
from xacct_dataapi.resource_types.base import GONE, NOT_OURS, OURS, NotOurs, Ownership, ResourceType

# A new kind of resource is one module here and one entry in MODULES. Module order is the order of their grants in
# the operator's policy (permissions.py).
MODULES: list = [rds, kms, secrets, ec2, iam, iam_policy, db]
TYPES: dict[str, ResourceType] = {t.kind: t for m in MODULES for t in m.TYPES}


def register(module) -> None:
    """Add a module of resource types (its TYPES and GRANTS) to the registry, as an entry in MODULES does."""
    if module not in MODULES:
        MODULES.append(module)
    TYPES.update({t.kind: t for t in module.TYPES})


def unregister(module) -> None:
    MODULES.remove(module)
    for t in module.TYPES:
        TYPES.pop(t.kind, None)


def grants() -> tuple:
    """Every registered module's grants, in module order."""
    return tuple(g for m in MODULES for g in getattr(m, "GRANTS", ()))

__all__ = ["GONE", "NOT_OURS", "OURS", "NotOurs", "Ownership", "ResourceType", "TYPES", "before_delete", "for_kind",
           "grants", "register", "unregister", "screen"]


def for_kind(kind: str) -> ResourceType | None:
    return TYPES.get(kind)


def before_delete(ops, guard: dict) -> dict | None:
    """A guarded item's check right before it runs (ResourceType.before_delete), through the client of the item's
    account (`ops.client(service)`): None to go ahead, the "already gone" response, or NotOurs raised."""
    rtype = for_kind(guard["kind"])
    if rtype is None:  # a guard is made only by a registered type: anything else is a bug in xacct
        raise AssertionError(f"internal error: a guarded item names kind {guard['kind']!r}, which no resource type reads")
    return rtype.before_delete(ops.client(rtype.service), guard)


def screen(client_for, rows: Iterable, deployment: str) -> dict[tuple[str, str], Ownership | BaseException]:
    """Every row's ownership as AWS shows it now, read concurrently; `client_for(row, service)` gives the client of
    the row's account. A read that fails (no permission, throttled) is returned as its exception: unknown is not
    ours, and the caller decides what to tell the operator."""
    typed = [(row, TYPES[row.kind]) for row in rows if row.kind in TYPES and TYPES[row.kind].guarded]
    results = gather(*(lambda row=row, t=t: t.ownership(client_for(row, t.service), row, deployment)
                       for row, t in typed))
    return {(row.kind, row.id): (value if error is None else error) for (row, _), (value, error) in zip(typed, results)}
