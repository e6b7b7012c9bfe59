"""The one botocore/moto speed-up (`speed_up_aws`); conftest's `fast_aws` fixture applies it to a test module."""
from __future__ import annotations

import botocore.client
import botocore.session
import pytest

from xacct_dataapi import state as state_mod


class _SearchPaths(list):
    """boto3 appends its own data path to the loader of every session it creates: once is enough."""

    def append(self, item) -> None:
        if item not in self:
            super().append(item)


_LOADERS: dict = {}
_CLIENT_CLASSES: dict = {}


def speed_up_aws(mp: pytest.MonkeyPatch) -> None:
    """Test speed only; nothing here changes what xacct sends or what moto answers.

    Each xacct command builds new boto3 sessions, and each botocore session gets its own data loader that finds
    and parses the (large) service models again: share one loader (it only reads botocore's bundled JSON).
    With one loader, a service's model is one object, so the client class botocore generates from it (one method
    per operation) can be shared too. Skip moto's default AMI catalogue, which xacct never reads. And skip the state
    file's fsyncs: they guard against power loss, while these tests kill a *process* (the page cache survives; the
    atomic rename and the .bak are still exercised)."""
    original = botocore.session.create_loader

    def shared_loader(search_path_string=None):
        if search_path_string not in _LOADERS:
            loader = original(search_path_string)
            loader._search_paths = _SearchPaths(loader._search_paths)
            _LOADERS[search_path_string] = loader
        return _LOADERS[search_path_string]

    mp.setattr(botocore.session, "create_loader", shared_loader)

    original_class = botocore.client.ClientCreator._create_client_class

    def shared_class(creator, service_name, service_model):
        key = (service_name, id(service_model._service_description))
        if key not in _CLIENT_CLASSES:
            _CLIENT_CLASSES[key] = (service_model._service_description,
                                    original_class(creator, service_name, service_model))
        return _CLIENT_CLASSES[key][1]

    mp.setattr(botocore.client.ClientCreator, "_create_client_class", shared_class)
    mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    mp.setattr(state_mod.os, "fsync", lambda fd: None)
