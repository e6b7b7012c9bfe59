"""`xacct connect --format sqlalchemy` for an Aurora MySQL cluster: the snippet runs as printed against the sandbox
(its MySQL is emulated: sandbox/rdsdata.py answers a MySQL client's connect-time questions and, for the query,
what is queued), and without its two charset lines SQLAlchemy 2.x fails as the issue measured."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.test_cli_server import clean_env, xacct_cmd
from tests.e2e.test_connect import app_profile_files
from xacct_dataapi.sandbox import Sandbox, queue_statement_result

pytestmark = pytest.mark.server

PASSWORD = "mysql-emulated-Passw0rd"  # the emulation checks no password (docs/sandbox.md)


def run(sb, home, *args, env: dict | None = None):
    res = subprocess.run([*xacct_cmd(), *args], env=clean_env({**sb.env(), "XACCT_DB_PASSWORD": PASSWORD, **(env or {})}),
                         cwd=home, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"{args}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert PASSWORD not in res.stdout + res.stderr
    return res


def test_mysql_sqlalchemy_snippet_runs_as_printed(tmp_path, monkeypatch):
    with Sandbox(tmp_path / "sandbox", engine="aurora-mysql") as sandbox:
        sb = sandbox.info
        for k, v in sb.env().items():
            monkeypatch.setenv(k, v)
        run(sb, tmp_path, "setup", "--consumer-profile", sb.operator_consumer_profile,
            "--provider-profile", sb.operator_provider_profile,
            "--cluster", sb.cluster_id, "--vpc", sb.vpc_id, "--subnets", ",".join(sb.subnet_ids), "--enable-data-api",
            "--name", "my", "--yes")
        files = app_profile_files(sb, tmp_path, "xacct-my-data-api-client")
        run(sb, tmp_path, "connect", "--name", "my", "--format", "profile", "--source-profile", "app", "--write", env=files)
        snippet = run(sb, tmp_path, "connect", "--name", "my", "--format", "sqlalchemy").stdout
        assert "mysql+auroradataapi://:@/" in snippet and "SELECT CURRENT_USER()" in snippet
        assert "ObjectNotExecutableError" in snippet  # it says why the two lines are there

        queue_statement_result(sb, [[{"stringValue": "app_user@%"}]], [{"name": "CURRENT_USER()", "typeName": "VARCHAR"}])
        res = subprocess.run([sys.executable, "-c", snippet], env=clean_env(files), cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == "[('app_user@%',)]"

        # The same snippet without its charset lines: SQLAlchemy 2.x refuses the library's plain-string query.
        bare = "\n".join(line for line in snippet.splitlines() if "_detect_charset" not in line)
        res = subprocess.run([sys.executable, "-c", bare], env=clean_env(files), cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode != 0 and "ObjectNotExecutableError" in res.stderr
        run(sb, tmp_path, "teardown", "--name", "my", "--yes")
        assert json.loads((sb.dir / "sandbox.json").read_text())["db_port"] == 0
