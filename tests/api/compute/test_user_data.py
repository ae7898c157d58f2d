"""getVirtualMachineUserData: the user data deploy and update stored, as the guest gets it."""

from __future__ import annotations

import base64

import pytest
from starlette.applications import Starlette

from tests.api.compute.vm_support import deploy, hosts_up
from tests.conftest import Clients
from tests.support.compute_world import ComputeWorld

UNKNOWN = "6f1d0c2e-1d7a-4a57-9d55-0d6f4a0c9e11"
CLOUD_CONFIG = base64.b64encode(b"#cloud-config\npackages: [nginx]\n").decode()


@pytest.fixture
async def world(app: Starlette, compute: ComputeWorld) -> ComputeWorld:
    return await hosts_up(app, compute)


async def test_deploy_and_update_set_what_is_answered(
    clients: Clients, world: ComputeWorld
) -> None:
    vm = await deploy(clients.alice, world, userdata=CLOUD_CONFIG, startvm=False)
    answer = await clients.alice.ok("getVirtualMachineUserData", virtualmachineid=vm["id"])
    assert answer == {
        "virtualmachineuserdata": {"virtualmachineid": vm["id"], "userdata": CLOUD_CONFIG}
    }
    newer = base64.b64encode(b"#!/bin/sh\necho v2\n").decode()
    await clients.alice.ok("updateVirtualMachine", id=vm["id"], userdata=newer)
    answer = await clients.alice.ok("getVirtualMachineUserData", virtualmachineid=vm["id"])
    assert answer["virtualmachineuserdata"]["userdata"] == newer


async def test_a_vm_without_user_data_answers_none(clients: Clients, world: ComputeWorld) -> None:
    vm = await deploy(clients.alice, world, startvm=False)
    answer = await clients.alice.ok("getVirtualMachineUserData", virtualmachineid=vm["id"])
    assert answer == {"virtualmachineuserdata": {"virtualmachineid": vm["id"]}}


async def test_who_may_read_it(clients: Clients, world: ComputeWorld) -> None:
    vm = await deploy(clients.alice, world, userdata=CLOUD_CONFIG, startvm=False)
    for reader in (clients.admin, clients.d1admin):
        answer = await reader.ok("getVirtualMachineUserData", virtualmachineid=vm["id"])
        assert answer["virtualmachineuserdata"]["userdata"] == CLOUD_CONFIG
    for stranger in (clients.bob, clients.carol):
        text = await stranger.fails("getVirtualMachineUserData", 431, virtualmachineid=vm["id"])
        assert "virtualmachineid" in text


@pytest.mark.parametrize(
    ("params", "needle"),
    [({}, "virtualmachineid"), ({"virtualmachineid": UNKNOWN}, UNKNOWN)],
    ids=["missing", "unknown"],
)
async def test_bad_input_is_431(clients: Clients, params: dict[str, str], needle: str) -> None:
    assert needle in await clients.alice.fails("getVirtualMachineUserData", 431, **params)


@pytest.mark.parametrize(
    "userdata",
    ["not base64!", base64.b64encode(b"x" * 32769).decode()],
    ids=["not-base64", "over-32k"],
)
async def test_bad_user_data_on_update_changes_nothing(
    clients: Clients, world: ComputeWorld, userdata: str
) -> None:
    vm = await deploy(clients.alice, world, userdata=CLOUD_CONFIG, startvm=False)
    text = await clients.alice.fails("updateVirtualMachine", 431, id=vm["id"], userdata=userdata)
    assert "userdata" in text
    answer = await clients.alice.ok("getVirtualMachineUserData", virtualmachineid=vm["id"])
    assert answer["virtualmachineuserdata"]["userdata"] == CLOUD_CONFIG
