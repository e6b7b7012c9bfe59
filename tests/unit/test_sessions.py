"""aws.Sessions under the concurrency of the first wave of lookups."""
from __future__ import annotations

import threading
import time
from collections import Counter

import botocore.loaders
import botocore.session

from tests.helpers.concurrency import ask_at_once
from xacct_dataapi.aws import Sessions
from xacct_dataapi.models import Account


BOTH_STS = [(Account.CONSUMER, "sts"), (Account.PROVIDER, "sts")]


def test_both_accounts_first_clients_at_once_parse_each_model_file_once(monkeypatch):
    # The two accounts' STS clients are made at the same moment (check_accounts). botocore's Loader caches a parsed file
    # without a lock (loaders.instance_cache), so both threads parsed sts's model, endpoints.json and the rule set, each
    # slowing the other down on the way to the first request. Parsing is widened to 20 ms so the race always can happen.
    parsed: list[str] = []
    original = botocore.loaders.JSONFileLoader.load_file

    def slow_load_file(self, file_path):
        data = original(self, file_path)
        if data is not None:
            parsed.append(file_path)
            time.sleep(0.02)
        return data

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", slow_load_file)
    aws = Sessions.from_profiles("consumer", "provider", "us-west-2")
    assert ask_at_once(aws, BOTH_STS) == []
    assert aws.client(Account.CONSUMER, "sts") is not aws.client(Account.PROVIDER, "sts")
    assert any("sts" in p for p in parsed)
    assert {p: n for p, n in Counter(parsed).items() if n > 1} == {}


def test_clients_are_made_one_at_a_time_across_both_accounts(monkeypatch):
    # Making a client is pure CPU: made at once, clients only share the interpreter lock and all end late. The creation
    # is widened to 20 ms so that overlapping creations would be seen.
    inside, most = [0], [0]
    guard = threading.Lock()
    original = botocore.session.Session.create_client

    def counted_create_client(self, *args, **kwargs):
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.02)
        try:
            return original(self, *args, **kwargs)
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(botocore.session.Session, "create_client", counted_create_client)
    aws = Sessions.from_profiles("consumer", "provider", "us-west-2")
    wanted = [(Account.CONSUMER, "ec2"), (Account.PROVIDER, "rds"), (Account.CONSUMER, "iam"), (Account.PROVIDER, "kms")]
    assert ask_at_once(aws, wanted) == []
    assert most[0] == 1
    assert all(aws.client(*w).meta.service_model.service_name == w[1] for w in wanted)


def test_both_accounts_credentials_are_resolved_at_the_same_time(monkeypatch):
    # Resolving a profile's credentials may take a while (a credential_process, SSO, the instance metadata): the two
    # accounts' run at once, outside the one-at-a-time lock for making clients. Each resolution here waits for the
    # other's to start; one at a time, the first would wait alone and the barrier break.
    import botocore.credentials

    both = threading.Barrier(2, timeout=10)
    original = botocore.credentials.CredentialResolver.load_credentials

    def load_credentials(self):
        both.wait()
        return original(self)

    monkeypatch.setattr(botocore.credentials.CredentialResolver, "load_credentials", load_credentials)
    aws = Sessions.from_profiles("consumer", "provider", "us-west-2")
    assert ask_at_once(aws, BOTH_STS) == []  # a broken barrier would be here
    assert aws.client(Account.CONSUMER, "sts").meta.region_name == "us-west-2"
