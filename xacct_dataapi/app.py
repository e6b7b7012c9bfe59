"""The use cases behind the commands, under the names the CLI, the demo, the benchmarks and the tests use. Each lives
in its own module of xacct_dataapi/commands/ (no UI there: cli/ parses and renders)."""
from __future__ import annotations

from xacct_dataapi.commands.common import load_required, resolve_state_path, sessions_for, state_location
from xacct_dataapi.commands.handoff import ConnectResult, connect, verify
from xacct_dataapi.commands.listing import force_unlock, list_deployments, permissions_scope, recorded_scope
from xacct_dataapi.commands.setup import (
    RECORDED_FLAGS, REQUIRED_FLAGS, SetupResult, failing_checks, needs_password, password_source, record_deployment,
    setup, setup_config,
)
from xacct_dataapi.commands.status import status
from xacct_dataapi.commands.teardown import TeardownResult, removal_summary, teardown

__all__ = [
    "ConnectResult", "RECORDED_FLAGS", "REQUIRED_FLAGS", "SetupResult", "TeardownResult", "connect", "failing_checks",
    "force_unlock", "list_deployments", "load_required", "needs_password", "password_source", "permissions_scope",
    "record_deployment", "recorded_scope", "removal_summary", "resolve_state_path", "sessions_for", "setup",
    "setup_config", "state_location", "status", "teardown", "verify",
]
