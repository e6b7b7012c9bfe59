import pytest
from tests.reliability.test_sixty_in_one_vpc import *
from tests.reliability import test_sixty_in_one_vpc as m

def test_small(sessions, monkeypatch):
    world = seed(*sessions, data_api_on=True)
    rds = world.provider.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="billing-aurora", Engine="aurora-postgresql", EngineVersion="11.13", EngineMode="serverless",
            MasterUsername="postgres", MasterUserPassword="seed-password-3", EnableHttpEndpoint=True)
    counter = RequestCounter().install(monkeypatch)
    for i in range(59):
        name, cluster = f"d{i:02d}", CLUSTERS[i % 2]
        path = state_path_for(name)
        ctx, plan = plan_for(config(world, name, cluster), PASSWORD, path)
        r = apply_setup(ctx, plan, path, sleep=lambda s: None)
        c = counter.take()
        if c["consumer:ec2.ModifyVpcEndpoint"] or i < 3: print("XX", name, dict((k, v) for k, v in c.items() if "ec2" in k), [x for x in r.calls_made if x.startswith("ec2")], flush=True)
    assert False
