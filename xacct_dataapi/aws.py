"""The two AWS sessions (consumer, provider). The only module that builds boto3 sessions and clients.

Endpoints come from the standard SDK settings (AWS_ENDPOINT_URL, `endpoint_url` in a profile), so a
sandbox or LocalStack needs no xacct flag. Every client uses botocore's standard retry mode.
"""
from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field

import boto3
import botocore.session
from botocore import xform_name
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from xacct_dataapi import __version__
from xacct_dataapi.errors import AwsError, UsageError
from xacct_dataapi.models import Account

RETRY_CONFIG = {"mode": "standard", "max_attempts": 8}

NOT_FOUND_CODES = frozenset(
    {
        "NoSuchEntity",
        "NotFoundException",
        "ResourceNotFoundException",
        "DBClusterNotFoundFault",
        "InvalidGroup.NotFound",
        "InvalidVpcEndpointId.NotFound",
        "InvalidVpcID.NotFound",
        "InvalidSubnetID.NotFound",
    }
)


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in NOT_FOUND_CODES


# The codes of a call the caller's permissions do not allow (IAM, STS and S3; the JSON services; EC2).
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def is_access_denied(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in DENIED_CODES


# botocore's service name -> IAM's service prefix, where they differ.
IAM_PREFIX = {"resourcegroupstaggingapi": "tag"}


def iam_action(service: str, method: str) -> str:
    """The IAM action a client method is authorised as: ("rds", "describe_db_clusters") -> "rds:DescribeDBClusters"
    (the operation's name in botocore's model; IAM's own spelling, which the snake_case method name loses)."""
    return f"{IAM_PREFIX.get(service, service)}:{_operation_names(service)[method]}"


# The data loader of the last Sessions built: the models its clients parsed name iam_action's operations too (a
# fresh loader would parse each model file again: most of a second for EC2's and IAM's in a dry run's JSON).
_LOADER: list = []


@functools.lru_cache(maxsize=None)
def _operation_names(service: str) -> dict[str, str]:
    model = _models_of(_LOADER[-1] if _LOADER else None).get_service_model(service)
    return {xform_name(operation): operation for operation in model.operation_names}


@functools.lru_cache(maxsize=1)
def _models_of(loader) -> botocore.session.Session:
    core = botocore.session.Session()
    if loader is not None:
        core.register_component("data_loader", loader)
    return core


def _parse_each_file_once(loader) -> None:
    """Two threads that need the same model file at once (both accounts' first STS client) parse it once: the second
    waits for the first, then takes the loader's cached copy. botocore's Loader caches without a lock
    (loaders.instance_cache), so both would parse it, each slowing the other down, on the way to the first request."""
    load, guard, locks = loader.load_data_with_path, threading.Lock(), {}

    def load_data_with_path(name):
        with guard:
            lock = locks.setdefault(name, threading.Lock())
        with lock:
            return load(name)

    loader.load_data_with_path = load_data_with_path


def region_from_environment() -> str | None:
    """AWS_REGION, which the AWS CLI v2 and the other SDKs read before AWS_DEFAULT_REGION and the profile's region but
    boto3 does not read at all (docs/aws-facts.md, "Regions"): xacct follows the CLI, its users' convention."""
    return os.environ.get("AWS_REGION", "").strip() or None


def _session(profile: str | None, region: str | None, flag: str, loader_from: boto3.Session | None = None) -> boto3.Session:
    region = region or region_from_environment()  # then boto3's own order: AWS_DEFAULT_REGION, the profile's
    try:
        core = botocore.session.Session()
        if loader_from is None:
            _parse_each_file_once(core.get_component("data_loader"))
            _LOADER[:] = [core.get_component("data_loader")]
        else:
            # One loader for both accounts: service models, endpoints.json and the endpoint rule sets are parsed once
            # per process, not once per session (JSON decoding was the largest CPU cost before the first request).
            # The loader's cache holds only parsed AWS model files, which do not depend on the profile.
            core.register_component("data_loader", loader_from._session.get_component("data_loader"))
        session = boto3.Session(profile_name=profile, region_name=region, botocore_session=core)
        core.get_scoped_config()  # an unknown profile fails here (ProfileNotFound), not at the first call
        return session
    except ProfileNotFound:
        raise UsageError(
            f"{flag} {profile!r}: no such profile in the AWS config.",
            "Check the name with `aws configure list-profiles` (xacct reads AWS_CONFIG_FILE and "
            "AWS_SHARED_CREDENTIALS_FILE like the AWS CLI), or create it with `aws configure --profile NAME`.",
        ) from None


@dataclass
class Sessions:
    consumer: boto3.Session
    provider: boto3.Session
    region: str
    consumer_profile: str | None = None
    provider_profile: str | None = None
    _clients: dict = field(default_factory=dict, repr=False)
    # A boto3 Session is not thread-safe (its clients are: boto3 docs, "Multithreading"). One lock per session while its
    # credentials are resolved: a credential_process, SSO or the instance metadata may take a while, and the two
    # accounts' run at once. Then no client is made before its session's credentials are known.
    _locks: dict = field(default_factory=lambda: {a: threading.Lock() for a in Account}, repr=False)
    # And one lock for making clients, of either session: one at a time. Making a client is pure CPU (parsing its
    # model, building its methods), so two made at once share one interpreter lock and both end late, with extra cost
    # for the switching: 10 clients took 350-470 ms of CPU from 10 threads with a lock per account only, 290-320 ms
    # with this one, 230-280 ms from one thread. A lookup whose client exists never waits (client() reads it without
    # a lock). Fresh setup at 100 ms: first write 0.93 s against 0.99 s (mean of 12 interleaved runs).
    _create_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_profiles(cls, consumer_profile: str | None, provider_profile: str | None, region: str | None) -> "Sessions":
        explicit_region = region
        provider = _session(provider_profile, region, "--provider-profile")
        region = region or provider.region_name
        if not region:
            raise UsageError(
                f"No region: --region was not given and the provider profile {provider_profile!r} sets none.",
                "Pass --region (e.g. --region eu-west-1), set AWS_REGION (or AWS_DEFAULT_REGION), or set "
                "`region` in the profile.",
            )
        if explicit_region is None:
            consumer_default = _session(consumer_profile, None, "--consumer-profile", provider).region_name
            if consumer_default and consumer_default != region:
                raise UsageError(
                    f"--consumer-profile {consumer_profile!r} is set to region {consumer_default} but --provider-profile "
                    f"{provider_profile!r} to {region}.",
                    "PrivateLink for rds-data is regional: both sides must be in the cluster's region. Pass --region "
                    f"{region} (the cluster's region) to use it for both.",
                )
        consumer = _session(consumer_profile, region, "--consumer-profile", provider)
        if provider.region_name != region:
            provider = _session(provider_profile, region, "--provider-profile", provider)
        return cls(consumer, provider, region, consumer_profile, provider_profile)

    def session(self, account: Account) -> boto3.Session:
        return self.consumer if account is Account.CONSUMER else self.provider

    def client(self, account: Account, service: str):
        key = (account, service)
        made = self._clients.get(key)
        if made is not None:  # the common case: no lock needed to read a client made earlier
            return made
        session = self.session(account)
        with self._locks[account]:  # the first caller resolves them; botocore caches them in the session
            session.get_credentials()
        with self._create_lock:
            if key not in self._clients:
                self._clients[key] = self._new_client(session, service, self.region)
            return self._clients[key]

    def client_elsewhere(self, account: Account, service: str, region: str):
        """A client of `account` in another region than the one xacct works in (not kept): only to tell the operator
        that what they named is there, when a mistyped --region makes it look missing."""
        session = self.session(account)
        with self._locks[account]:
            session.get_credentials()
        with self._create_lock:
            return self._new_client(session, service, region)

    def regions_meant(self) -> dict[str, str]:
        """The regions the operator may have meant, other than the one in use: region -> where it is set."""
        configured = self.provider._session.get_scoped_config().get("region")  # the profile's own, env aside
        found = {"AWS_REGION": region_from_environment(), "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION"),
                 f"the region of profile {self.provider_profile or 'default'}": configured}
        meant: dict[str, str] = {}
        for where, region in found.items():
            if region and region != self.region and region not in meant:
                meant[region] = where
        return meant

    @staticmethod
    def _new_client(session: boto3.Session, service: str, region: str):
        return session.client(service, region_name=region,
                              config=BotoConfig(retries=dict(RETRY_CONFIG), user_agent_extra=f"xacct/{__version__}"))

    def account_id(self, account: Account) -> str:
        profile = self.consumer_profile if account is Account.CONSUMER else self.provider_profile
        flag = f"--{account.value}-profile"
        try:
            return self.client(account, "sts").get_caller_identity()["Account"]
        except (NoCredentialsError, PartialCredentialsError):
            if profile is None:
                raise UsageError(
                    f"No {flag} was given (and AWS_PROFILE is not set), and the default credentials are not usable.",
                    f"Pass {flag} NAME with a profile of the {account.value} account "
                    "(`aws configure list-profiles` lists them).",
                ) from None
            raise UsageError(
                f"{flag} {profile!r} has no usable credentials.",
                f"Configure keys, SSO (`aws sso login --profile {profile}`) or a role for that profile.",
            ) from None
        except (SSOTokenLoadError, TokenRetrievalError, UnauthorizedSSOTokenError):
            raise UsageError(
                f"{flag} {profile!r}: the SSO session has expired or was never started.",
                f"Run `aws sso login --profile {profile}` and re-run.",
            ) from None
        except EndpointConnectionError as exc:
            raise AwsError(f"Cannot reach AWS STS for {flag} {profile!r}: {exc}.",
                           "Check the network, the region, and any AWS_ENDPOINT_URL / endpoint_url setting.") from None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise UsageError(
                f"{flag} {profile!r} was refused by STS: {err.get('Code')}: {err.get('Message')}.",
                "Check that profile's credentials.",
            ) from None
        except NoRegionError:
            raise UsageError("No region configured.", "Pass --region or set AWS_REGION.") from None
        except BotoCoreError as exc:
            raise UsageError(f"{flag} {profile!r} could not be used: {exc}.", "Check that profile in the AWS config.") from None
