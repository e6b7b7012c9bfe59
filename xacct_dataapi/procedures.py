"""The composite operations a plan may name: module-level functions registered by name, so an Operation in a plan
is data (the name and its parameters) that a dry run prints, and the executor finds the function by that name.

A resource type or step module registers its functions with `@procedure("service:what_it_does", actions=...)`,
naming the IAM actions the function calls: a procedure's name says what it does, not which permissions it uses, and
a security reviewer reads those in the dry run (`iam_actions`). One function may serve several names (deleting a
role and deleting a user with what IAM requires gone first), each with its own actions. Each is called as
`fn(ops, **params)` with the executor's OperationContext and returns the response (NOTHING_CHANGED when it found
nothing to do). The plan is built by the modules that register what it names, so every name resolves by then.

Tests hold the declarations to the truth: each action is a real one of its service (tests/security/
test_procedure_actions.py), `xacct permissions` grants it for the command whose plan names the procedure, and a run
of the procedure calls nothing else (tests/steps/test_plan_is_data.py; the database user's in tests/e2e/).
"""
from __future__ import annotations

import re
from typing import Callable, Iterable

Procedure = Callable[..., dict]
PROCEDURES: dict[str, Procedure] = {}
ACTIONS: dict[str, tuple[str, ...]] = {}  # procedure name -> the IAM actions it calls, sorted

_ACTION_RE = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$")  # service prefix : Operation, as IAM spells it


def procedure(*names: str, actions: Iterable[str]) -> Callable[[Procedure], Procedure]:
    """Register the decorated function under each of `names` (an Operation's `name`), calling the IAM `actions`
    (e.g. "iam:DeleteRole"; every one it may call, whichever branch it takes); the function is unchanged."""
    declared = tuple(sorted(set(actions)))
    malformed = [a for a in declared if not _ACTION_RE.match(a)]
    if not declared or malformed:
        raise ValueError(f"procedure {', '.join(names)}: actions must be IAM actions like 'iam:DeleteRole', not "
                         f"{malformed or 'none'}")

    def register(fn: Procedure) -> Procedure:
        for name in names:
            taken = PROCEDURES.get(name)
            if taken is not None and _where(taken) != _where(fn):  # a module reloaded re-registers its own, nothing else
                raise ValueError(f"procedure {name!r} is already {_where(taken)}, not {_where(fn)}")
            PROCEDURES[name], ACTIONS[name] = fn, declared
        return fn
    return register


def lookup(name: str) -> Procedure:
    """The function an Operation named `name` runs."""
    try:
        return PROCEDURES[name]
    except KeyError:
        # A plan naming an unregistered procedure is a bug in xacct (a missing @procedure), not an AWS failure.
        raise AssertionError(f"internal error: the plan names procedure {name!r}, which no module registered") from None


def actions_of(name: str) -> tuple[str, ...]:
    """The IAM actions the procedure calls, sorted: what the dry run shows as the Operation's `iam_actions`."""
    lookup(name)
    return ACTIONS[name]


def function_of(name: str) -> str:
    """Where the procedure lives, for the dry run: 'xacct_dataapi.resource_types.kms.schedule_key_deletion'."""
    return _where(lookup(name))


def _where(fn: Procedure) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"
