"""Threads that call xacct at the same moment, as its first wave of lookups does."""
from __future__ import annotations

import threading

from xacct_dataapi.aws import Sessions
from xacct_dataapi.models import Account


def ask_at_once(aws: Sessions, wanted: list[tuple[Account, str]]) -> list[BaseException]:
    """One thread per (account, service), all asking aws.client() at the same moment; what any of them raised."""
    start, errors = threading.Barrier(len(wanted)), []

    def make(account: Account, service: str) -> None:
        start.wait()
        try:
            aws.client(account, service)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=make, args=w) for w in wanted]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
