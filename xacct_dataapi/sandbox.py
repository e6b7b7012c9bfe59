"""An embedded local AWS sandbox: moto's server on 127.0.0.1 with two simulated accounts.

Used by ``xacct sandbox up/down``, ``xacct demo`` and the end-to-end tests.

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

import gc
import json
import logging
import os
import secrets
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "CONSUMER_ACCOUNT",
    "PROVIDER_ACCOUNT",
    "REGION",
    "CONSUMER_PROFILE",
    "PROVIDER_PROFILE",
    "ENGINES",
    "SandboxError",
    "SandboxUnavailable",
    "SandboxInfo",
    "Sandbox",
    "queue_statement_result",
    "resources_in_accounts",
]

CONSUMER_ACCOUNT = "111111111111"
PROVIDER_ACCOUNT = "222222222222"
REGION = "us-west-2"
CONSUMER_PROFILE = "xacct-consumer"
PROVIDER_PROFILE = "xacct-provider"

HOST = "127.0.0.1"
ADMIN_USER = "xacct-sandbox-admin"
CLUSTER_ID = "xacct-sandbox-aurora"
DATABASE_NAME = "app"
VPC_CIDR = "10.20.0.0/16"
SUBNETS = (("us-west-2a", "10.20.1.0/24"), ("us-west-2b", "10.20.2.0/24"))

# Engine -> (EngineVersion, MasterUsername). moto honours EnableHttpEndpoint only
# for EngineMode="serverless" and a fixed list of versions (moto/rds/models.py,
# DBCluster.enable_http_endpoint); these versions are on that list.
ENGINES: dict[str, tuple[str, str]] = {
    "aurora-postgresql": ("11.13", "postgres"),
    "aurora-mysql": ("5.7.mysql_aurora.2.07.2", "admin"),
}

CONFIG_NAME = "config"
CREDENTIALS_NAME = "credentials"
INFO_NAME = "sandbox.json"

_INSTALL_HINT = "install it with `pip install 'xacct[sandbox]'`"
_START_TIMEOUT = 15.0
_PROFILE_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class SandboxError(Exception):
    """The sandbox could not be started, seeded or verified."""


class SandboxUnavailable(SandboxError):
    """moto (the optional ``sandbox`` extra) is not installed."""


@dataclass(frozen=True)
class SandboxInfo:
    """Everything a client needs to use a running sandbox (also saved as DIR/sandbox.json)."""

    endpoint_url: str
    dir: Path
    config_file: Path
    credentials_file: Path
    region: str
    consumer_account: str
    provider_account: str
    consumer_profile: str
    provider_profile: str
    vpc_id: str
    vpc_cidr: str
    subnet_ids: tuple[str, ...]
    cluster_id: str
    cluster_arn: str
    engine: str

    def env(self) -> dict[str, str]:
        """Environment variables that point an AWS SDK/CLI at the sandbox profiles.

        Region and endpoint come from the profiles themselves. Note that
        AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or MOTO_ACCOUNT_ID
        in the caller's environment can still override them; callers that build
        a child environment should drop those.
        """
        return {
            "AWS_CONFIG_FILE": str(Path(self.config_file).resolve()),
            "AWS_SHARED_CREDENTIALS_FILE": str(Path(self.credentials_file).resolve()),
        }

    def setup_command(self) -> str:
        """The ``xacct setup`` invocation that wires this sandbox's two accounts together."""
        import shlex

        parts = [
            "xacct", "setup",
            "--consumer-profile", self.consumer_profile,
            "--provider-profile", self.provider_profile,
            "--cluster", self.cluster_id,
            "--vpc", self.vpc_id,
            "--subnets", ",".join(self.subnet_ids),
            "--enable-data-api",
        ]  # fmt: skip
        return " ".join(shlex.quote(p) for p in parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "dir": str(self.dir),
            "config_file": str(self.config_file),
            "credentials_file": str(self.credentials_file),
            "region": self.region,
            "consumer_account": self.consumer_account,
            "provider_account": self.provider_account,
            "consumer_profile": self.consumer_profile,
            "provider_profile": self.provider_profile,
            "vpc_id": self.vpc_id,
            "vpc_cidr": self.vpc_cidr,
            "subnet_ids": list(self.subnet_ids),
            "cluster_id": self.cluster_id,
            "cluster_arn": self.cluster_arn,
            "engine": self.engine,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SandboxInfo:
        """Inverse of ``to_json``; extra keys (``pid``, ``port``, ...) are ignored."""
        try:
            return cls(
                endpoint_url=str(d["endpoint_url"]),
                dir=Path(d["dir"]),
                config_file=Path(d["config_file"]),
                credentials_file=Path(d["credentials_file"]),
                region=str(d["region"]),
                consumer_account=str(d["consumer_account"]),
                provider_account=str(d["provider_account"]),
                consumer_profile=str(d["consumer_profile"]),
                provider_profile=str(d["provider_profile"]),
                vpc_id=str(d["vpc_id"]),
                vpc_cidr=str(d["vpc_cidr"]),
                subnet_ids=tuple(str(s) for s in d["subnet_ids"]),
                cluster_id=str(d["cluster_id"]),
                cluster_arn=str(d["cluster_arn"]),
                engine=str(d["engine"]),
            )
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a sandbox info document: missing or bad field {e}") from e

    @property
    def port(self) -> int:
        from urllib.parse import urlparse

        return int(urlparse(self.endpoint_url).port or 80)


# --------------------------------------------------------------------------- helpers


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


def _client_config() -> Any:
    from botocore.config import Config

    # proxies={} (not None) disables environment proxies for the 127.0.0.1 endpoint.
    return Config(
        proxies={},
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 2, "mode": "standard"},
    )


def _botocore_session(
    config_file: Path | None = None,
    credentials_file: Path | None = None,
    profile: str | None = None,
    loader_from: Any = None,
) -> Any:
    """A botocore session bound to the given files/profile, without touching os.environ.

    Instance variables beat the AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE / AWS_PROFILE
    environment variables, and an explicit profile drops the env-var credential provider.
    Sharing ``loader_from``'s data loader avoids re-reading service models (speed).
    """
    import botocore.session

    s = botocore.session.Session()
    if loader_from is not None:
        s.register_component("data_loader", loader_from.get_component("data_loader"))
    if config_file is not None:
        s.set_config_variable("config_file", str(config_file))
    if credentials_file is not None:
        s.set_config_variable("credentials_file", str(credentials_file))
    if profile is not None:
        s.set_config_variable("profile", profile)
    return s


def _account_header_hook(account_id: str) -> Callable[..., None]:
    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account_id

    return add_header


def _write_private(path: Path, text: str) -> None:
    """Atomically write ``text`` to ``path`` with mode 0600 (it holds access keys)."""
    from xacct_dataapi.state import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode("utf-8"))


def _check_port_free(port: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's server does
        s.bind((HOST, port))
    except OSError as e:
        raise SandboxError(f"cannot listen on {HOST}:{port}: {e.strerror or e}") from e
    finally:
        s.close()


def _warm_moto_ec2() -> None:
    """Import moto's EC2 models now rather than inside the first EC2 request.

    Importing ``moto.ec2.models`` costs ~0.6 s, half of it because a class body calls
    ``boto3.Session().get_available_regions("ec2", ...)`` three times, each time on a
    new session that re-reads botocore's large ec2 service model. While this thread
    imports, ``get_service_data`` is memoised for this thread only, so the model is
    read once. Any failure of the shortcut falls back to a plain import.
    """
    import sys

    if "moto.ec2.models" in sys.modules:
        return
    try:
        import botocore.session

        original = botocore.session.Session.get_service_data
        me = threading.get_ident()
        cache: dict[tuple[str, Any], Any] = {}

        def get_service_data(self: Any, service_name: str, api_version: Any = None) -> Any:
            if threading.get_ident() != me:
                return original(self, service_name, api_version)
            key = (service_name, api_version)
            if key not in cache:
                cache[key] = original(self, service_name, api_version)
            return cache[key]

        botocore.session.Session.get_service_data = get_service_data  # type: ignore[method-assign]
        try:
            import moto.ec2.models  # noqa: F401
        finally:
            botocore.session.Session.get_service_data = original  # type: ignore[method-assign]
    except ImportError:
        raise
    except Exception:  # pragma: no cover - the shortcut is an optimisation only
        import moto.ec2.models  # noqa: F401


def _stop_server(server: Any) -> None:
    """ThreadedMotoServer.stop(), without waiting out werkzeug's 0.5 s poll interval.

    ``shutdown()`` only takes effect when the accept loop's select() returns, so
    while it is pending we poke the listener with empty connections to wake it.
    """
    inner = getattr(server, "_server", None)
    port = inner.server_address[1] if inner is not None else None
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    deadline = time.monotonic() + 5.0
    while stopper.is_alive() and port and time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                pass
        except OSError:
            pass
        stopper.join(0.02)
    stopper.join(max(0.0, deadline - time.monotonic()))
    if stopper.is_alive() and inner is not None:  # pragma: no cover - last resort
        inner.server_close()


# --------------------------------------------------------------------------- sandbox


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
        verbose: bool = False,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(
                f"unsupported engine {engine!r}; allowed: {', '.join(sorted(ENGINES))}"
            )
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"invalid port {port!r}; use 0 for a free port or 1-65535")
        self.dir = Path(dir)
        self.port = port
        self.engine = engine
        self.verbose = verbose
        self._server: Any = None
        self._info: SandboxInfo | None = None
        self._saved_moto_account_id: str | None = None
        self._set_amis_env = False
        self._saved_werkzeug_level: int | None = None
        self.timings: dict[str, float] = {}

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
        t0 = time.perf_counter()
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
                return self._start(server_cls, t0)
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
            with Sandbox._active_lock:
                if Sandbox._active is self:
                    Sandbox._active = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals --------------------------------------------------------------

    def _lap(self, name: str, t0: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round(now - t0, 4)
        return now

    def _start(self, server_cls: Any, t_start: float) -> SandboxInfo:
        self.timings = {}
        t = self._lap("import_moto", t_start)

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
        _host, port = server.get_host_and_port()
        endpoint = f"http://{HOST}:{port}"
        t = self._lap("server", t)

        # Fresh state: moto's backends are process-global and may hold a previous run.
        _post_json(f"{endpoint}/moto-api/reset", None, raw=b"")
        t = self._lap("reset", t)

        self.dir.mkdir(parents=True, exist_ok=True)
        config_file = (self.dir / CONFIG_NAME).resolve()
        credentials_file = (self.dir / CREDENTIALS_NAME).resolve()

        # 1. Write the profiles' config (region, endpoint; no secrets yet).
        config_lines: list[str] = []
        for profile in (CONSUMER_PROFILE, PROVIDER_PROFILE):
            config_lines += [
                f"[profile {profile}]",
                f"region = {REGION}",
                f"endpoint_url = {endpoint}",
                "output = json",
                "",
            ]
        _write_private(config_file, "\n".join(config_lines))

        # 2. Mint per-account keys with header-tagged bootstrap clients. The bootstrap
        # session reads only the sandbox's own config (not ~/.aws, not AWS_PROFILE) and
        # is given explicit keys and endpoint.
        base = _botocore_session(config_file, Path(os.devnull), CONSUMER_PROFILE)
        cfg = _client_config()
        keys: dict[str, tuple[str, str]] = {}
        for profile, account in ((CONSUMER_PROFILE, CONSUMER_ACCOUNT), (PROVIDER_PROFILE, PROVIDER_ACCOUNT)):
            iam = base.create_client(
                "iam",
                region_name=REGION,
                endpoint_url=endpoint,
                aws_access_key_id="xacct-sandbox-bootstrap",
                aws_secret_access_key="xacct-sandbox-bootstrap",
                config=cfg,
            )
            iam.meta.events.register("before-sign", _account_header_hook(account))
            iam.create_user(UserName=ADMIN_USER, Tags=[{"Key": "xacct:sandbox", "Value": "admin"}])
            iam.put_user_policy(
                UserName=ADMIN_USER,
                PolicyName="xacct-sandbox-admin",
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                    }
                ),
            )
            ak = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
            keys[profile] = (ak["AccessKeyId"], ak["SecretAccessKey"])
        t = self._lap("mint_keys", t)

        # 3. Write the minted keys (0600, like the config).
        cred_lines: list[str] = []
        for profile in (CONSUMER_PROFILE, PROVIDER_PROFILE):
            cred_lines += [
                f"[{profile}]",
                f"aws_access_key_id = {keys[profile][0]}",
                f"aws_secret_access_key = {keys[profile][1]}",
                "",
            ]
        _write_private(credentials_file, "\n".join(cred_lines))
        t = self._lap("write_profiles", t)

        # 4. Verify each profile, as written, lands in its own account.
        sessions: dict[str, Any] = {}
        for profile, account in ((CONSUMER_PROFILE, CONSUMER_ACCOUNT), (PROVIDER_PROFILE, PROVIDER_ACCOUNT)):
            s = _botocore_session(config_file, credentials_file, profile, loader_from=base)
            scoped = s.get_scoped_config()
            if scoped.get("endpoint_url") != endpoint or scoped.get("region") != REGION:
                raise SandboxError(f"profile {profile} in {config_file} was not written as expected")
            creds = s.get_credentials()
            if creds is None or creds.access_key != keys[profile][0]:
                raise SandboxError(
                    f"profile {profile} did not resolve to the minted key from {credentials_file}"
                )
            # endpoint_url is passed explicitly so that an AWS_ENDPOINT_URL in the
            # environment can never send this check anywhere but 127.0.0.1.
            sts = s.create_client("sts", region_name=REGION, endpoint_url=endpoint, config=cfg)
            ident = sts.get_caller_identity()
            if ident.get("Account") != account:
                raise SandboxError(
                    f"profile {profile} landed in account {ident.get('Account')}, expected {account} "
                    "(moto did not map the minted key; is MOTO_ACCOUNT_ID set in the server process?)"
                )
            sessions[profile] = s
        t = self._lap("verify_sts", t)

        # 5. Seed the consumer: a VPC with DNS on and two private subnets in two AZs.
        _warm_moto_ec2()
        t = self._lap("ec2_import", t)
        ec2 = sessions[CONSUMER_PROFILE].create_client(
            "ec2", region_name=REGION, endpoint_url=endpoint, config=cfg
        )
        t = self._lap("ec2_client", t)
        vpc_id = ec2.create_vpc(
            CidrBlock=VPC_CIDR,
            TagSpecifications=[
                {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "xacct-sandbox-vpc"}]}
            ],
        )["Vpc"]["VpcId"]
        t = self._lap("ec2_first_call", t)
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        subnet_ids: list[str] = []
        for az, cidr in SUBNETS:
            subnet_ids.append(
                ec2.create_subnet(
                    VpcId=vpc_id,
                    CidrBlock=cidr,
                    AvailabilityZone=az,
                    TagSpecifications=[
                        {
                            "ResourceType": "subnet",
                            "Tags": [{"Key": "Name", "Value": f"xacct-sandbox-private-{az[-1]}"}],
                        }
                    ],
                )["Subnet"]["SubnetId"]
            )
        t = self._lap("seed_consumer", t)

        # 6. Seed the provider: an Aurora cluster whose Data API is off but can be enabled.
        rds = sessions[PROVIDER_PROFILE].create_client(
            "rds", region_name=REGION, endpoint_url=endpoint, config=cfg
        )
        version, master_user = ENGINES[self.engine]
        rds.create_db_cluster(
            DBClusterIdentifier=CLUSTER_ID,
            Engine=self.engine,
            EngineVersion=version,
            EngineMode="serverless",
            MasterUsername=master_user,
            MasterUserPassword=secrets.token_urlsafe(24),  # never printed nor stored
            DatabaseName=DATABASE_NAME,
            Tags=[{"Key": "Name", "Value": CLUSTER_ID}],
        )
        clusters = rds.describe_db_clusters(DBClusterIdentifier=CLUSTER_ID)["DBClusters"]
        if len(clusters) != 1 or clusters[0].get("HttpEndpointEnabled") is not False:
            raise SandboxError(
                f"seeded cluster {CLUSTER_ID} is missing or its Data API is not off: {clusters!r}"
            )
        cluster_arn = clusters[0]["DBClusterArn"]
        t = self._lap("seed_provider", t)

        info = SandboxInfo(
            endpoint_url=endpoint,
            dir=self.dir.resolve(),
            config_file=config_file,
            credentials_file=credentials_file,
            region=REGION,
            consumer_account=CONSUMER_ACCOUNT,
            provider_account=PROVIDER_ACCOUNT,
            consumer_profile=CONSUMER_PROFILE,
            provider_profile=PROVIDER_PROFILE,
            vpc_id=vpc_id,
            vpc_cidr=VPC_CIDR,
            subnet_ids=tuple(subnet_ids),
            cluster_id=CLUSTER_ID,
            cluster_arn=cluster_arn,
            engine=self.engine,
        )
        doc = info.to_json() | {"pid": os.getpid(), "port": port, "started_at": time.time()}
        _write_private(self.dir / INFO_NAME, json.dumps(doc, indent=2) + "\n")
        self._info = info
        self._lap("write_info", t)
        self.timings["total"] = round(time.perf_counter() - t_start, 4)
        return info


# --------------------------------------------------------------------------- helpers for users


def queue_statement_result(
    info: SandboxInfo, records: list, column_metadata: list | None = None
) -> None:
    """Queue one canned rds-data ExecuteStatement result for the provider account.

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


def resources_in_accounts(info: SandboxInfo) -> dict[str, list[str]]:
    """List leftovers per account, for a "nothing left behind" check.

    Reports, as strings: customer-managed KMS keys not pending deletion, secrets not
    deleted, IAM roles and users named ``xacct-*`` (except the sandbox's own admin
    user), security groups named ``xacct-*``, and VPC endpoints not in ``deleted`` state.
    Returns ``{"consumer": [...], "provider": [...]}``.
    """
    out: dict[str, list[str]] = {}
    loader_src = None
    for label, profile in (("consumer", info.consumer_profile), ("provider", info.provider_profile)):
        found: list[str] = []
        s = _botocore_session(info.config_file, info.credentials_file, profile, loader_from=loader_src)
        loader_src = loader_src or s
        cfg = _client_config()

        def client(service: str) -> Any:
            return s.create_client(
                service, region_name=info.region, endpoint_url=info.endpoint_url, config=cfg
            )

        kms = client("kms")
        for page in kms.get_paginator("list_keys").paginate():
            for k in page.get("Keys", []):
                md = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
                if md.get("KeyManager", "CUSTOMER") != "CUSTOMER":
                    continue
                if md.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
                    continue
                found.append(f"kms:key/{md['KeyId']} ({md.get('KeyState', '?')})")

        sm = client("secretsmanager")
        for page in sm.get_paginator("list_secrets").paginate():
            for sec in page.get("SecretList", []):
                if sec.get("DeletedDate"):
                    continue
                found.append(f"secretsmanager:secret/{sec['Name']}")

        iam = client("iam")
        for page in iam.get_paginator("list_roles").paginate():
            for r in page.get("Roles", []):
                if r["RoleName"].startswith("xacct-"):
                    found.append(f"iam:role/{r['RoleName']}")
        for page in iam.get_paginator("list_users").paginate():
            for u in page.get("Users", []):
                if u["UserName"].startswith("xacct-") and u["UserName"] != ADMIN_USER:
                    found.append(f"iam:user/{u['UserName']}")

        ec2 = client("ec2")
        for page in ec2.get_paginator("describe_security_groups").paginate():
            for g in page.get("SecurityGroups", []):
                if g.get("GroupName", "").startswith("xacct-"):
                    found.append(f"ec2:security-group/{g['GroupId']} ({g['GroupName']})")
        for page in ec2.get_paginator("describe_vpc_endpoints").paginate():
            for ep in page.get("VpcEndpoints", []):
                state = str(ep.get("State", "")).lower()
                if state != "deleted":
                    found.append(
                        f"ec2:vpc-endpoint/{ep['VpcEndpointId']} ({ep.get('ServiceName', '?')}, {state})"
                    )
        out[label] = found
    return out
