"""Teardown's first read: which recorded rows AWS shows as this deployment's.

A state file is untrusted input: edited by hand, copied from another deployment, or stale. Before a teardown plans
any delete, every recorded row is read through its resource type (resource_types); a row whose resource AWS shows
is not this deployment's is dropped from the plan (reported, never deleted, never changed), and the deployment's
real resources are then looked for by name and tag (discover) so they are still torn down. Each planned delete is
guarded again right before it runs (ResourceType.guard): this screen only makes the plan honest about it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from xacct_dataapi.aws import Sessions, is_access_denied
from xacct_dataapi.discover import discover
from xacct_dataapi.errors import AwsError, error_code
from xacct_dataapi.models import Account
from xacct_dataapi.resource_types import NOT_OURS, Ownership, screen
from xacct_dataapi.state import ResourceRow, State
from xacct_dataapi.steps import registered, step_for_row


@dataclass
class Screened:
    refused: list[tuple[ResourceRow, str]] = field(default_factory=list)  # not this deployment's: left alone
    found: list[ResourceRow] = field(default_factory=list)  # this deployment's, found by tag in their place

    def refusal(self, state_path) -> AwsError:
        rows = "; ".join(f"{row.kind.replace('_', ' ')} {row.id} ({why})" for row, why in self.refused)
        return AwsError(f"The state file {state_path} named {len(self.refused)} resource(s) that AWS does not show as "
                        f"this deployment's; they were neither deleted nor changed, and are no longer recorded: {rows}.",
                        "Someone edited or replaced the state file, or it belongs to another deployment. Check those "
                        "resources by hand; this deployment's own resources were found by tag and torn down.")




def _execution_index(row: ResourceRow) -> int:
    return [s.key for s in registered()].index(step_for_row(row).key)


def screen_state(aws: Sessions, state: State) -> Screened:
    """Drop the rows AWS shows are not this deployment's (or refuses to show at all: aws.is_access_denied) from
    `state` (in memory only) and add the deployment's resources found by name and tag instead; rows that could not be read for another
    reason (throttled, a network fault) stay (their guarded delete reads again)."""
    declared = {kind for step in registered() for kind in step.kinds}
    verdicts = screen(lambda row, service: aws.client(Account(row.account), service),
                      [row for row in state.resources if row.kind in declared], state.name)
    refused = []
    for row in list(state.resources):
        verdict = verdicts.get((row.kind, row.id))
        if row.kind not in declared:  # no step of this xacct records it, so none reads or deletes it
            refused.append((row, f"no step of this xacct records a {row.kind!r}"))
        elif isinstance(verdict, Ownership) and verdict.verdict == NOT_OURS:
            refused.append((row, verdict.why))
        elif is_access_denied(verdict):
            # The operator's permissions (`xacct permissions`) cover xacct's own names and tags only: a row naming
            # anything else cannot be shown to be this deployment's, and is left alone like one shown not to be.
            refused.append((row, f"the profile may not read it ({error_code(verdict)}): xacct's permissions reach "
                                 "only its own names and tags"))
        else:
            continue
        state.forget(row.kind, row.id)
    if not refused:
        return Screened()
    accounts = state.accounts or {}
    real = discover(aws, state.name, accounts.get("consumer", ""), accounts.get("provider", "")).resources
    found = [row for row in real if state.find(row.kind, row.id) is None
             and all((row.kind, row.id) != (r.kind, r.id) for r, _ in refused)]
    # Execution order of the steps, recorded order within one: what teardown_order reverses.
    state.resources = sorted(state.resources + found, key=_execution_index)
    return Screened(refused, found)
