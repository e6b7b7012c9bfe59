"""The crash tests' and request counts' own instruments, under the concurrency xacct's lookups and chains have."""
from __future__ import annotations

import time

import pytest
from botocore.hooks import HierarchicalEmitter
from tests.helpers.concurrency import ask_at_once
from tests.helpers.counting import RequestCounter
from tests.helpers.hooks import CallHooks
from xacct_dataapi.aws import Sessions
from xacct_dataapi.models import Account


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
            assert ask_at_once(aws, [(Account.CONSUMER, "ec2")] * 8) == []  # 8 threads ask for one new client
            aws.client(Account.CONSUMER, "ec2").create_tags(Resources=[world.vpc_id], Tags=[{"Key": "k", "Value": "v"}])
            assert hooks.calls == ["consumer:ec2.CreateTags"]
            assert counter.take()["consumer:ec2.CreateTags"] == 1
