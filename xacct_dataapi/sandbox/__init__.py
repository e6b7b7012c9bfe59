"""An embedded local AWS sandbox: moto's server on 127.0.0.1 with two simulated accounts.

Used by ``xacct sandbox up/down``, ``xacct demo`` and the end-to-end tests.

- server.py: the moto server in this process (``Sandbox``) and the ``sandbox up``/``down`` process handling;
- seed.py: the two accounts, their profiles, the consumer's VPC and the provider's cluster (``SandboxInfo``);
- leftovers.py: what is left in either account after a teardown.

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

from xacct_dataapi.sandbox.leftovers import resources_in_accounts
from xacct_dataapi.sandbox.seed import (
    CONSUMER_ACCOUNT,
    CONSUMER_PROFILE,
    ENGINES,
    PROVIDER_ACCOUNT,
    PROVIDER_PROFILE,
    REGION,
    SandboxError,
    SandboxInfo,
)
from xacct_dataapi.sandbox.server import (
    DEFAULT_DIR,
    Sandbox,
    SandboxUnavailable,
    as_xacct_errors,
    queue_statement_result,
    serve,
    stop_recorded,
)

__all__ = [
    "CONSUMER_ACCOUNT",
    "PROVIDER_ACCOUNT",
    "REGION",
    "CONSUMER_PROFILE",
    "PROVIDER_PROFILE",
    "ENGINES",
    "DEFAULT_DIR",
    "SandboxError",
    "SandboxUnavailable",
    "SandboxInfo",
    "Sandbox",
    "as_xacct_errors",
    "queue_statement_result",
    "resources_in_accounts",
    "serve",
    "stop_recorded",
]
