"""`xacct sandbox down` process handling (xacct_dataapi/sandbox/updown.py), with stand-in processes: no moto."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from xacct_dataapi import sandbox
from xacct_dataapi.cli import cli
from xacct_dataapi.errors import XacctError
from xacct_dataapi.sandbox import updown as server


def record(dir, pid: int):
    dir.mkdir(parents=True, exist_ok=True)
    path = dir / "sandbox.json"
    path.write_text(json.dumps({"pid": pid, "endpoint_url": "http://127.0.0.1:1"}))
    return path


@pytest.fixture
def stand_in():
    """A process that records itself as a sandbox, then serves nothing."""
    procs = []

    def start(code: str):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_nothing_recorded_is_a_usage_error(tmp_path):
    res = CliRunner().invoke(cli, ["sandbox", "down", "--dir", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert f"No running sandbox recorded in {tmp_path / 'sandbox.json'}" in " ".join(res.output.split())


def test_a_process_already_gone_is_cleaned_up(tmp_path, stand_in):
    proc = stand_in("print('ready', flush=True)")
    proc.wait()
    path = record(tmp_path, proc.pid)
    assert sandbox.stop_recorded(tmp_path) == f"Sandbox process {proc.pid} was already gone; cleaned up {path}."
    assert not path.exists()


def test_stopped_once_the_process_removes_its_record(tmp_path, stand_in):
    path = tmp_path / "sandbox.json"
    proc = stand_in(f"""
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: (os.remove({str(path)!r}), sys.exit(0)))
print('ready', flush=True)
time.sleep(30)
""")
    record(tmp_path, proc.pid)
    assert sandbox.stop_recorded(tmp_path) == f"Sandbox (pid {proc.pid}) stopped."


def test_a_process_that_ignores_sigterm_is_named_with_the_fix(tmp_path, stand_in, monkeypatch):
    monkeypatch.setattr(server, "_DOWN_TIMEOUT", 0.5)
    proc = stand_in("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(30)")
    path = record(tmp_path, proc.pid)
    with pytest.raises(XacctError) as info:
        sandbox.stop_recorded(tmp_path)
    assert str(proc.pid) in info.value.message
    assert f"kill -9 {proc.pid}" in info.value.hint and str(path) in info.value.hint
