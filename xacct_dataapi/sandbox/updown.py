"""`xacct sandbox up` / `down`: serve a Sandbox (server.py) in this process until SIGTERM or Ctrl-C, saying how to
reach it; stop the process DIR/sandbox.json records; the sandbox's failures in xacct's error vocabulary.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from xacct_dataapi.errors import UsageError, WaitTimeout, XacctError
from xacct_dataapi.sandbox import DEFAULT_DIR
from xacct_dataapi.sandbox import realism as layer
from xacct_dataapi.sandbox.database import DatabaseUnavailable
from xacct_dataapi.sandbox.realism import Realism
from xacct_dataapi.sandbox.info import SandboxError
from xacct_dataapi.sandbox.instructions import print_instructions, xacct_command
from xacct_dataapi.sandbox.server import INFO_NAME, Sandbox, SandboxUnavailable
from xacct_dataapi.waiting import Timing, until_true

if TYPE_CHECKING:
    from xacct_dataapi.terminal import Terminal

_DOWN_TIMEOUT = 10.0  # for `sandbox down`: how long the serving process may take to stop its server

@contextmanager
def as_xacct_errors() -> Iterator[None]:
    """The sandbox's failures in xacct's error vocabulary: a missing extra or a bad --engine/--port is a usage
    error (exit 2), anything else that goes wrong in the sandbox a failure (exit 1)."""
    try:
        yield
    except (SandboxUnavailable, DatabaseUnavailable) as exc:
        raise UsageError(str(exc), "Install it with: pip install 'xacct[sandbox]'") from None
    except ValueError as exc:
        raise UsageError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", "See `xacct sandbox up --help`.") from None
    except SandboxError as exc:
        raise XacctError(f"Sandbox failed: {exc}") from None


def running_sandbox(dir: Path) -> dict | None:
    """DIR/sandbox.json, if the process it names is still alive."""
    try:
        info = json.loads((dir / INFO_NAME).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info


def serve(dir: Path, port: int, engine: str, ui: Terminal, *, engine_mode: str = "provisioned",
          realism: Realism | None = None) -> None:
    """`xacct sandbox up`: start a sandbox, say how to use it, serve until SIGTERM (`sandbox down`) or Ctrl-C, stop."""
    running = running_sandbox(dir)
    if running:
        raise UsageError(f"A sandbox is already running from {dir}: {running['endpoint_url']} (pid {running['pid']}).",
                         f"Use it (the exports are in {dir}), stop it with `xacct sandbox down --dir {dir}`, "
                         "or pass another --dir.")
    with as_xacct_errors():
        sandbox = Sandbox(dir, port=port, engine=engine, engine_mode=engine_mode, realism=realism)
        info = sandbox.start()
    ui.print(f"Sandbox running at {info.endpoint_url}: consumer account {info.consumer_account}, provider account "
             f"{info.provider_account}. Profiles of each: {info.operator_consumer_profile} / "
             f"{info.operator_provider_profile}, an operator holding only the policies `xacct permissions --for all` "
             f"prints (run xacct as it); {info.consumer_profile} / {info.provider_profile}, an administrator.")
    if sandbox.realism.active:
        r = sandbox.realism
        ui.print(f"Realistic: {r.latency_ms:g} ms per request; a new endpoint pending {r.endpoint_pending_s:g}s, a new IAM "
                 f"principal invalid {r.principal_delay_s:g}s, ENIs lingering {r.eni_linger_s:g}s, a deleted secret's "
                 f"name blocked {r.secret_name_block_s:g}s, the Data API switch {r.data_api_switch_s:g}s.")
    print_instructions(ui, info, sandbox.sql_shell_command())
    ui.print(f"Stop it with Ctrl-C or `{xacct_command()} sandbox down" + (f" --dir {dir}`." if dir != DEFAULT_DIR else "`."))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        # Not a poll: the timeout only lets the main thread see Ctrl-C while it waits for SIGTERM.
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        seen = layer.events()
        sandbox.stop()
        if seen:
            ui.print("Realistic answers given: " + ", ".join(f"{k} ×{n}" for k, n in sorted(seen.items())) + ".")
        ui.print("Sandbox stopped.")


def stop_recorded(dir: Path) -> str:
    """`xacct sandbox down`: SIGTERM the process recorded in DIR/sandbox.json and wait until its server is down.

    Returns what happened, for the operator."""
    info_path = dir / INFO_NAME
    try:
        pid = int(json.loads(info_path.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        raise UsageError(f"No running sandbox recorded in {info_path}.", "Pass the --dir given to `xacct sandbox up`.") from None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        info_path.unlink(missing_ok=True)
        return f"Sandbox process {pid} was already gone; cleaned up {info_path}."

    def stopped() -> bool:
        # The serving process removes its sandbox.json once its server is down: a process that has exited
        # but not been reaped by its parent (a zombie) still answers kill(pid, 0).
        if not info_path.exists():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        until_true(stopped, timeout=_DOWN_TIMEOUT, what=f"sandbox process {pid} to stop",
                   timing=Timing(poll_first=0.1, poll_factor=1.0, poll_cap=0.1))
    except WaitTimeout:
        raise XacctError(f"Sandbox process {pid} did not stop within {_DOWN_TIMEOUT:.0f}s of SIGTERM.",
                         f"Stop it with `kill -9 {pid}`, then remove {info_path}.") from None
    return f"Sandbox (pid {pid}) stopped."
