"""Where the acceptance suite runs: the sandbox (the default, on 127.0.0.1) or two real AWS accounts (opt-in).

Real AWS is chosen only by XACCT_ACC=1 together with the two profiles and the region, as terraform-provider-aws
chooses it by TF_ACC. Everything the suite sends goes through a `Target`: its boto3 sessions refuse, before sending,
any request to a host that is not the loopback unless the target is the opted-in AWS one, and the `xacct` processes
it starts get an environment whose every profile points at the sandbox.
"""
from __future__ import annotations

import configparser
import ipaddress
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

OPT_IN = "XACCT_ACC"
CONSUMER_VAR, PROVIDER_VAR, REGION_VAR = "XACCT_ACC_CONSUMER_PROFILE", "XACCT_ACC_PROVIDER_PROFILE", "XACCT_ACC_REGION"
REQUIRED = (CONSUMER_VAR, PROVIDER_VAR, REGION_VAR)
YES_VAR = "XACCT_ACC_YES"  # the maintainer has seen the plan and the cost estimate (python -m tests.acceptance asks)
RUN_ID_VAR = "XACCT_ACC_RUN_ID"  # the tag value of this run's world (default: a fresh one)
SANDBOX_VAR = "XACCT_ACC_SANDBOX"  # a running sandbox's directory to use instead of starting one (the killed-run test)
PROGRESS_VAR = "XACCT_ACC_PROGRESS"  # a file the lifecycle appends each finished step's name to
USAGE = (f"Real AWS needs all of: {OPT_IN}=1 {CONSUMER_VAR}=PROFILE {PROVIDER_VAR}=PROFILE {REGION_VAR}=REGION "
         "(see docs/aws-acceptance.md); unset XACCT_ACC to run against the sandbox.")


class OptInIncomplete(Exception):
    """XACCT_ACC is set but a variable real AWS needs is missing: the suite stops before any request."""


class BeyondLoopback(Exception):
    """A request of the suite was about to leave 127.0.0.1 without the opt-in."""


def opted_in(environ: Mapping[str, str]) -> dict[str, str] | None:
    """The two profiles and the region when the maintainer opted in to real AWS, else None (the sandbox).
    Raises OptInIncomplete naming every missing variable."""
    if environ.get(OPT_IN, "").strip().lower() in ("", "0", "false", "no"):
        return None
    missing = [v for v in REQUIRED if not environ.get(v, "").strip()]
    if missing:
        raise OptInIncomplete(f"{OPT_IN}={environ[OPT_IN]} but {', '.join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not set. {USAGE}")
    return {"consumer": environ[CONSUMER_VAR].strip(), "provider": environ[PROVIDER_VAR].strip(),
            "region": environ[REGION_VAR].strip()}


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_beyond_loopback(request, **_) -> None:
    """botocore `before-send`: raise instead of sending a request whose URL is not on the loopback."""
    if not is_loopback(request.url):
        raise BeyondLoopback(f"refused {request.method} {urlparse(request.url).hostname}: the acceptance suite "
                             f"targets the sandbox; opt in to real AWS with {OPT_IN}=1 (docs/aws-acceptance.md)")


def default_aws_file(var: str, name: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / ".aws" / name).expanduser()


@dataclass
class Target:
    """The accounts the suite runs against. `consumer_profile`/`provider_profile` are the maintainer's (or the
    sandbox's) administrators, used to build and sweep the world and to read the inventory; xacct itself runs as the
    world's least-privilege operators (world.py)."""

    aws: bool
    region: str
    consumer_profile: str
    provider_profile: str
    base_config: Path  # the profiles' config file; the suite's own config (workdir/config) starts as a copy of it
    credentials_file: Path
    workdir: Path
    endpoint_url: str = ""  # the sandbox's
    db_login: tuple[str, str] | None = None  # the sandbox's seeded DB user; on AWS the world's cluster's master
    extra_profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)  # sessions and clients: building them is the slow part

    @property
    def sandbox_dir(self) -> Path:
        """The sandbox's directory (its config, credentials and sandbox.json), for a process to attach to it."""
        assert not self.aws
        return self.base_config.parent

    @classmethod
    def sandbox(cls, info, workdir: Path) -> Target:
        if not is_loopback(info.endpoint_url):
            raise BeyondLoopback(f"the sandbox's endpoint {info.endpoint_url} is not on the loopback")
        return cls(False, info.region, info.consumer_profile, info.provider_profile, Path(info.config_file),
                   Path(info.credentials_file), workdir, info.endpoint_url, (info.db_user, info.db_password()))

    @classmethod
    def real_aws(cls, opt_in: dict[str, str], workdir: Path) -> Target:
        return cls(True, opt_in["region"], opt_in["consumer"], opt_in["provider"],
                   default_aws_file("AWS_CONFIG_FILE", "config"),
                   default_aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), workdir)

    @property
    def config_file(self) -> Path:
        return self.workdir / "config"

    def add_profile(self, name: str, values: dict[str, str]) -> None:
        """A profile the suite writes (an operator's role, the application's key) into its own config file, 0600."""
        values = {"region": self.region, **({"endpoint_url": self.endpoint_url} if not self.aws else {}), **values}
        self.extra_profiles[name] = values
        self.write_config()

    def write_config(self) -> None:
        parser = configparser.RawConfigParser()
        parser.read([self.base_config, self.config_file])  # what `xacct connect --write` added stays
        for name, values in self.extra_profiles.items():
            parser[f"profile {name}"] = values
        self.workdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            parser.write(out)
        if not self.aws:
            self.check_config_on_loopback()

    def check_config_on_loopback(self) -> None:
        """Without the opt-in, every profile the `xacct` processes can read must name the sandbox's endpoint."""
        parser = configparser.RawConfigParser()
        parser.read(self.config_file)
        for section in parser.sections():
            url = parser[section].get("endpoint_url", "")
            if not is_loopback(url):
                raise BeyondLoopback(f"[{section}] in {self.config_file} has endpoint_url {url!r}, not the sandbox")

    def session(self, profile: str):
        """A boto3 session of one profile of the suite's config (one per profile, sharing botocore's loaded service
        models); without the opt-in it sends nothing beyond 127.0.0.1."""
        import boto3
        import botocore.session

        if ("session", profile) in self._cache:
            return self._cache["session", profile]
        if not self.config_file.exists():
            self.write_config()
        core = botocore.session.Session()
        core.set_config_variable("config_file", str(self.config_file))
        core.set_config_variable("credentials_file", str(self.credentials_file))
        core.set_config_variable("profile", profile)
        if "loader" in self._cache:
            core.register_component("data_loader", self._cache["loader"])
        self._cache["loader"] = core.get_component("data_loader")
        if not self.aws:
            core.register("before-send", refuse_beyond_loopback)
        session = self._cache["session", profile] = boto3.Session(botocore_session=core, region_name=self.region)
        return session

    def client(self, profile: str, service: str):
        if ("client", profile, service) not in self._cache:
            self._cache["client", profile, service] = self.session(profile).client(service)
        return self._cache["client", profile, service]

    def cli_env(self, **extra: str) -> dict[str, str]:
        """The environment of an `xacct` process: the suite's config, nothing of the caller's AWS_* or XACCT_*; in the
        sandbox every service's endpoint is the sandbox's, whatever a profile says."""
        if not self.config_file.exists():
            self.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "XACCT_"))}
        env.update(AWS_CONFIG_FILE=str(self.config_file), AWS_SHARED_CREDENTIALS_FILE=str(self.credentials_file))
        if not self.aws:
            self.check_config_on_loopback()
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        env.update(extra)
        return env

    def xacct(self, *args: str, password: str = "", code: int | None = 0,
              timeout: float = 1800) -> subprocess.CompletedProcess:
        """`xacct ARGS` as a separate process, as the operator runs it; the DB password only in its environment."""
        exe = Path(sys.executable).with_name("xacct")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "xacct_dataapi"]
        env = self.cli_env(**({"XACCT_DB_PASSWORD": password} if password else {}))
        res = subprocess.run([*cmd, *args], env=env, cwd=self.workdir, capture_output=True, text=True,
                             timeout=timeout if self.aws else 180)
        if password:
            assert password not in res.stdout + res.stderr, "the DB password was printed"
        if code is not None:
            assert res.returncode == code, f"xacct {' '.join(args)}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
        return res
