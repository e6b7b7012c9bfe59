"""The crash tests' and request counts' own instruments, under the concurrency xacct's lookups and chains have."""
from __future__ import annotations

import threading
import time

import pytest
from botocore.hooks import HierarchicalEmitter
from tests.helpers.counting import RequestCounter
from tests.helpers.hooks import CallHooks
from xacct_dataapi.aws import Sessions
from xacct_dataapi.models import Account


def _ask_at_once(aws: Sessions, service: str, threads: int = 8) -> None:
    """`threads` threads ask for the same new client at the same moment, as the first wave of lookups does."""
    start = threading.Barrier(threads)

    def ask() -> None:
        start.wait()
        aws.client(Account.CONSUMER, service)

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


class _SlowToSayNo(dict):
    """botocore's unique-id registry, with the window between its check and its add widened to 20 ms."""

    def __contains__(self, key) -> bool:
        found = super().__contains__(key)
        if not found:
            time.sleep(0.02)
        return found


def _widen_botocores_register_race(mp) -> None:
    original = HierarchicalEmitter._register_section

    def register_section(self, *args, **kwargs):
        if not isinstance(self._unique_id_handlers, _SlowToSayNo):
            self._unique_id_handlers = _SlowToSayNo(self._unique_id_handlers)
        return original(self, *args, **kwargs)

    mp.setattr(HierarchicalEmitter, "_register_section", register_section)


def test_a_call_is_recorded_once_however_many_threads_asked_for_its_client(world):
    # botocore's register(unique_id=) checks, then adds, without a lock (botocore/hooks.py, _register_section): hooks
    # registered from several threads at once were added twice, and every call of that client recorded twice (a CI
    # failure of a crash test). The window is widened here so that the race happens every time it can.
    for _ in range(3):
        with pytest.MonkeyPatch.context() as mp:
            _widen_botocores_register_race(mp)
            hooks = CallHooks().install(mp)
            counter = RequestCounter().install(mp)
            aws = Sessions.from_profiles("consumer", "provider", "us-west-2")
            _ask_at_once(aws, "ec2")
            aws.client(Account.CONSUMER, "ec2").create_tags(Resources=[world.vpc_id], Tags=[{"Key": "k", "Value": "v"}])
            assert hooks.calls == ["consumer:ec2.CreateTags"]
            assert counter.take()["consumer:ec2.CreateTags"] == 1
