import time, json
from pathlib import Path
from typer.testing import CliRunner
from xacct_dataapi import aws as aws_mod
from xacct_dataapi.cli import cli

def test_probe(world, password, monkeypatch):
    calls = []
    orig = aws_mod.Sessions.client
    def client(self, account, service):
        c = orig(self, account, service)
        if not getattr(c, "_probe", False):
            c._probe = True
            def hook(http_response, parsed, model, **kw):
                calls.append((account.value, model.service_model.service_name, model.name, http_response.status_code))
            c.meta.events.register("after-call.*.*", hook)
        return c
    monkeypatch.setattr(aws_mod.Sessions, "client", client)
    t=time.time()
    r = CliRunner().invoke(cli, world.setup_args("--enable-data-api", "--yes"))
    print(time.time()-t, r.exit_code)
    print(r.output[-2000:])
    for c in calls: print(c)
    t=time.time()
    r = CliRunner().invoke(cli, ["teardown", "--yes"])
    print(time.time()-t, r.exit_code, r.output[-1500:])
