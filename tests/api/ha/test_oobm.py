"""Out-of-band management through the API, end to end against a real BMC (ipmi_sim)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from altostratus.db.models import Host
from altostratus.ha.oobm.service import oobm_effective
from altostratus.jobs.status import JobStatus
from altostratus.runtime import Runtime
from tests.support.bmc import IpmiSim
from tests.support.client import ApiClient
from tests.support.compute_world import ComputeWorld
from tests.support.jobs import run_job, wait_job

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bmc() -> Iterator[IpmiSim]:
    with IpmiSim() as sim:
        yield sim


def _bmc_params(bmc: IpmiSim, host_id: str) -> dict[str, Any]:
    return {
        "hostid": host_id,
        "driver": "ipmitool",
        "address": bmc.address,
        "port": bmc.port,
        "username": bmc.username,
        "password": bmc.password,
    }


async def _configured(api: ApiClient, bmc: IpmiSim, host_id: str) -> dict[str, Any]:
    body = await api.ok("configureOutOfBandManagement", **_bmc_params(bmc, host_id))
    answer: dict[str, Any] = body["outofbandmanagement"]
    return answer


async def _effective(runtime: Runtime, host_uuid: str) -> bool:
    async with runtime.db.transaction(write=False) as session:
        host_id = await session.scalar(select(Host.id).where(Host.uuid == host_uuid))
        assert host_id is not None
        return await oobm_effective(session, host_id)


async def _listed(api: ApiClient, host_id: str) -> dict[str, Any]:
    oobm: dict[str, Any] = (await api.ok("listHosts", id=host_id))["host"][0]["outofbandmanagement"]
    return oobm


async def _power(api: ApiClient, host_id: str, action: str) -> dict[str, Any]:
    result = await run_job(
        api, "issueOutOfBandManagementPowerAction", hostid=host_id, action=action
    )
    answer: dict[str, Any] = result["outofbandmanagement"]
    return answer


async def test_configure_shows_the_bmc_in_list_hosts_without_its_password(
    api: ApiClient, compute: ComputeWorld, bmc: IpmiSim
) -> None:
    configured, other = compute.host_ids[:2]
    answer = await _configured(api, bmc, configured)
    assert answer["hostid"] == configured
    assert answer["enabled"] is False
    assert (answer["driver"], answer["address"], answer["port"]) == (
        "ipmitool",
        bmc.address,
        str(bmc.port),
    )
    assert answer["status"] is True
    assert "password" not in answer
    body = await api.ok("listHosts", zoneid=compute.zone_id)
    assert bmc.password not in json.dumps(body)
    by_id = {host["id"]: host["outofbandmanagement"] for host in body["host"]}
    assert by_id[configured] == {
        "enabled": False,
        "powerstate": "Unknown",
        "driver": "ipmitool",
        "address": bmc.address,
        "port": str(bmc.port),
        "username": bmc.username,
    }
    assert by_id[other] == {"enabled": False, "powerstate": "Disabled"}


async def test_bad_configuration_is_a_431_naming_the_parameter(
    api: ApiClient, compute: ComputeWorld, bmc: IpmiSim
) -> None:
    base = _bmc_params(bmc, compute.host_ids[0])
    for parameter, value in (
        ("driver", "ilo"),
        ("port", 0),
        ("port", 65536),
        ("address", ""),
        ("hostid", "7d4e3c1a-0000-4000-8000-000000000000"),
    ):
        text = await api.fails("configureOutOfBandManagement", 431, **{**base, parameter: value})
        assert parameter in text
    assert (await _listed(api, compute.host_ids[0]))["powerstate"] == "Disabled"
    text = await api.fails(
        "issueOutOfBandManagementPowerAction", 431, hostid=compute.host_ids[0], action="BLINK"
    )
    assert "action" in text


async def test_power_action_needs_oobm_configured_and_enabled(
    api: ApiClient, compute: ComputeWorld, bmc: IpmiSim
) -> None:
    host_id = compute.host_ids[0]
    text = await api.fails(
        "issueOutOfBandManagementPowerAction", 534, hostid=host_id, action="STATUS"
    )
    assert "not configured" in text
    text = await api.fails("enableOutOfBandManagementForHost", 534, hostid=host_id)
    assert "configure it first" in text
    await _configured(api, bmc, host_id)
    text = await api.fails("issueOutOfBandManagementPowerAction", 534, hostid=host_id, action="OFF")
    assert "disabled or not configured for the host" in text


async def test_switches_at_host_cluster_and_zone_decide_what_is_allowed(
    app: Starlette, api: ApiClient, compute: ComputeWorld, bmc: IpmiSim
) -> None:
    runtime: Runtime = app.state.runtime
    host_id = compute.host_ids[0]
    await _configured(api, bmc, host_id)
    assert not await _effective(runtime, host_id)
    enabled = await run_job(api, "enableOutOfBandManagementForHost", hostid=host_id)
    answer = enabled["outofbandmanagement"]
    assert (answer["enabled"], answer["status"], answer["jobstatus"]) == (True, True, 0)
    assert await _effective(runtime, host_id)
    assert (await _listed(api, host_id))["enabled"] is True

    for scope, parameter, uuid, refusal in (
        ("Cluster", "clusterid", compute.cluster_id, "disabled for the host's cluster"),
        ("Zone", "zoneid", compute.zone_id, "disabled for the host's zone"),
    ):
        await run_job(api, f"disableOutOfBandManagementFor{scope}", **{parameter: uuid})
        assert not await _effective(runtime, host_id)
        text = await api.fails(
            "issueOutOfBandManagementPowerAction", 534, hostid=host_id, action="STATUS"
        )
        assert refusal in text
        await run_job(api, f"enableOutOfBandManagementFor{scope}", **{parameter: uuid})
        assert await _effective(runtime, host_id)

    await run_job(api, "disableOutOfBandManagementForHost", hostid=host_id)
    assert not await _effective(runtime, host_id)
    assert (await _listed(api, host_id))["enabled"] is False


async def test_power_actions_reach_the_bmc_and_record_its_state(
    api: ApiClient, compute: ComputeWorld, bmc: IpmiSim
) -> None:
    host_id = compute.host_ids[0]
    await _configured(api, bmc, host_id)
    await run_job(api, "enableOutOfBandManagementForHost", hostid=host_id)

    on = await _power(api, host_id, "ON")
    assert (on["action"], on["powerstate"], on["status"]) == ("ON", "On", True)
    assert bmc.power_is_on()
    off = await _power(api, host_id, "off")
    assert (off["action"], off["powerstate"]) == ("OFF", "Off")
    assert not bmc.power_is_on()
    status = await _power(api, host_id, "STATUS")
    assert status["powerstate"] == "Off"
    assert (await _listed(api, host_id))["powerstate"] == "Off"


async def test_refused_credentials_fail_the_job_and_the_state_is_unknown(
    api: ApiClient, compute: ComputeWorld, bmc: IpmiSim
) -> None:
    host_id = compute.host_ids[1]
    await api.ok(
        "configureOutOfBandManagement", **{**_bmc_params(bmc, host_id), "password": "Wr0ng-Pa55"}
    )
    await run_job(api, "enableOutOfBandManagementForHost", hostid=host_id)
    answer = await api.ok(
        "issueOutOfBandManagementPowerAction", hostid=host_id, action="STATUS", timeout=3
    )
    body = await wait_job(api, answer["jobid"])
    assert body["jobstatus"] == JobStatus.FAILED
    assert "credentials" in body["jobresult"]["errortext"]
    assert "Wr0ng-Pa55" not in body["jobresult"]["errortext"]
    assert (await _listed(api, host_id))["powerstate"] == "Unknown"


async def test_password_change_reaches_the_bmc(
    api: ApiClient, compute: ComputeWorld, bmc: IpmiSim
) -> None:
    host_id = compute.host_ids[0]
    await _configured(api, bmc, host_id)
    await run_job(api, "enableOutOfBandManagementForHost", hostid=host_id)
    original = bmc.password
    try:
        result = await run_job(
            api, "changeOutOfBandManagementPassword", hostid=host_id, password="n3w-secret"
        )
        assert result["outofbandmanagement"]["status"] is True
        assert bmc.ipmitool("chassis", "power", "status", password="n3w-secret").returncode == 0
        # The stored password is the new one: power actions still work.
        assert (await _power(api, host_id, "STATUS"))["powerstate"] in ("On", "Off")
    finally:
        await run_job(api, "changeOutOfBandManagementPassword", hostid=host_id, password=original)
