"""The composite operations a plan may name: module-level functions registered by name, so an Operation in a plan
is data (the name and its parameters) that a dry run prints, and the executor finds the function by that name.

A resource type or step module registers its functions with `@procedure("service:what_it_does")`; one function may
serve several names (deleting a role and deleting a user with what IAM requires gone first). Each is called as
`fn(ops, **params)` with the executor's OperationContext and returns the response (NOTHING_CHANGED when it found
nothing to do). The plan is built by the modules that register what it names, so every name resolves by then.
"""
from __future__ import annotations

from typing import Callable

Procedure = Callable[..., dict]
PROCEDURES: dict[str, Procedure] = {}


def procedure(*names: str) -> Callable[[Procedure], Procedure]:
    """Register the decorated function under each of `names` (an Operation's `name`); the function is unchanged."""
    def register(fn: Procedure) -> Procedure:
        for name in names:
            taken = PROCEDURES.get(name)
            if taken is not None and _where(taken) != _where(fn):  # a module reloaded re-registers its own, nothing else
                raise ValueError(f"procedure {name!r} is already {_where(taken)}, not {_where(fn)}")
            PROCEDURES[name] = fn
        return fn
    return register


def lookup(name: str) -> Procedure:
    """The function an Operation named `name` runs."""
    try:
        return PROCEDURES[name]
    except KeyError:
        # A plan naming an unregistered procedure is a bug in xacct (a missing @procedure), not an AWS failure.
        raise AssertionError(f"internal error: the plan names procedure {name!r}, which no module registered") from None


def function_of(name: str) -> str:
    """Where the procedure lives, for the dry run: 'xacct_dataapi.resource_types.kms.schedule_key_deletion'."""
    return _where(lookup(name))


def _where(fn: Procedure) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"
