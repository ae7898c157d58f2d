"""The BMC drivers against real BMCs: OpenIPMI's ipmi_sim (IPMI over LAN) and sushy-tools'
Redfish emulator, each cross-checked with an independent client (ipmitool, plain HTTP)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from altostratus.ha.oobm.drivers import BmcTarget, OutOfBandError, PowerAction, PowerState
from altostratus.ha.oobm.ipmi import IpmiDriver
from altostratus.ha.oobm.redfish import RedfishDriver, base_url
from tests.support.bmc import IpmiSim, SushyEmulator, free_tcp_port, free_udp_port

pytestmark = pytest.mark.slow

#: A BMC that answers nothing must fail the call within its timeout, plus this margin.
_MARGIN = 1.5


@pytest.fixture(scope="module")
def ipmi_sim() -> Iterator[IpmiSim]:
    with IpmiSim() as sim:
        yield sim


@pytest.fixture(scope="module")
def sushy() -> Iterator[SushyEmulator]:
    with SushyEmulator() as emulator:
        yield emulator


def _ipmi(sim: IpmiSim, *, password: str | None = None, timeout: float = 10.0) -> IpmiDriver:
    secret = sim.password if password is None else password
    return IpmiDriver(BmcTarget(sim.address, sim.port, sim.username, secret, timeout))


def _redfish(emulator: SushyEmulator, *, password: str | None = None) -> RedfishDriver:
    secret = emulator.password if password is None else password
    target = BmcTarget(f"http://{emulator.address}", emulator.port, emulator.username, secret, 10)
    return RedfishDriver(target)


# --- IPMI ---


async def test_ipmi_on_off_and_status_read_what_the_bmc_says(ipmi_sim: IpmiSim) -> None:
    driver = _ipmi(ipmi_sim)
    assert await driver.power(PowerAction.ON) is PowerState.ON
    assert ipmi_sim.power_is_on()
    assert await driver.power(PowerAction.STATUS) is PowerState.ON
    assert await driver.power(PowerAction.OFF) is PowerState.OFF
    assert not ipmi_sim.power_is_on()
    assert await driver.power(PowerAction.STATUS) is PowerState.OFF


async def test_ipmi_cycle_comes_back_on(ipmi_sim: IpmiSim) -> None:
    driver = _ipmi(ipmi_sim)
    await driver.power(PowerAction.ON)
    await driver.power(PowerAction.CYCLE)
    deadline = time.monotonic() + 10
    while await driver.power(PowerAction.STATUS) is not PowerState.ON:
        assert time.monotonic() < deadline, "the host did not come back on after CYCLE"
    assert ipmi_sim.power_is_on()


@pytest.mark.parametrize("action", [PowerAction.RESET, PowerAction.SOFT])
async def test_ipmi_action_the_bmc_refuses_says_so(ipmi_sim: IpmiSim, action: PowerAction) -> None:
    # ipmi_sim does RESET and SOFT only through a VM on its serial interface.
    with pytest.raises(OutOfBandError, match="refused the request"):
        await _ipmi(ipmi_sim).power(action)
    assert await _ipmi(ipmi_sim).power(PowerAction.STATUS) in (PowerState.ON, PowerState.OFF)


async def test_ipmi_wrong_password_fails_fast_without_showing_it(ipmi_sim: IpmiSim) -> None:
    started = time.monotonic()
    with pytest.raises(OutOfBandError) as raised:
        await _ipmi(ipmi_sim, password="not-the-password").power(PowerAction.STATUS)
    assert time.monotonic() - started < 5
    assert "credentials" in str(raised.value)
    assert "not-the-password" not in str(raised.value)
    assert raised.value.code == 534


async def test_ipmi_unreachable_bmc_fails_within_the_timeout() -> None:
    driver = IpmiDriver(BmcTarget("127.0.0.1", free_udp_port(), "admin", "x", timeout=2.0))
    started = time.monotonic()
    with pytest.raises(OutOfBandError, match="did not answer"):
        await driver.power(PowerAction.OFF)
    assert time.monotonic() - started < 2.0 + _MARGIN


async def test_ipmi_password_change_takes_effect_on_the_bmc() -> None:
    with IpmiSim(password="first-pass") as sim:
        await _ipmi(sim).change_password("second-pass")
        assert sim.ipmitool("chassis", "power", "status", password="second-pass").returncode == 0
        assert sim.ipmitool("chassis", "power", "status", password="first-pass").returncode != 0
        assert await _ipmi(sim, password="second-pass").power(PowerAction.STATUS) in (
            PowerState.ON,
            PowerState.OFF,
        )


def test_ipmi_sim_stops_the_startcmd_with_sigterm_to_its_pid(tmp_path: Path) -> None:
    """What another test relies on when its startcmd is a host: documented in bmc.py."""
    script = tmp_path / "host.py"
    script.write_text(
        "import os, signal, sys, time\n"
        "out = sys.argv[1]\n"
        "open(out + '/pid', 'w').write(f'{os.getpid()} {os.getpgid(0)}')\n"
        "def stop(signum, frame):\n"
        "    open(out + '/signal', 'w').write(signal.Signals(signum).name)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "while True:\n"
        "    time.sleep(0.1)\n"
    )
    with IpmiSim(startcmd=f"{sys.executable} {script} {tmp_path}") as sim:
        assert sim.ipmitool("chassis", "power", "on").returncode == 0
        _wait_for(tmp_path / "pid")
        assert sim.ipmitool("chassis", "power", "off").returncode == 0
        _wait_for(tmp_path / "signal")
        assert (tmp_path / "signal").read_text() == "SIGTERM"


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 10
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} was not written"
        time.sleep(0.1)


# --- Redfish ---


async def test_redfish_every_action(sushy: SushyEmulator) -> None:
    driver = _redfish(sushy)
    assert await driver.power(PowerAction.ON) is PowerState.ON
    assert await driver.power(PowerAction.OFF) is PowerState.OFF
    assert sushy.system()["PowerState"] == "Off"
    assert await driver.power(PowerAction.STATUS) is PowerState.OFF
    assert await driver.power(PowerAction.ON) is PowerState.ON
    assert await driver.power(PowerAction.RESET) is PowerState.ON
    assert await driver.power(PowerAction.CYCLE) is PowerState.ON
    assert await driver.power(PowerAction.SOFT) is PowerState.OFF
    assert sushy.system()["PowerState"] == "Off"


async def test_redfish_wrong_password_fails_fast_without_showing_it(sushy: SushyEmulator) -> None:
    started = time.monotonic()
    with pytest.raises(OutOfBandError) as raised:
        await _redfish(sushy, password="not-the-password").power(PowerAction.OFF)
    assert time.monotonic() - started < 5
    assert "credentials" in str(raised.value)
    assert "not-the-password" not in str(raised.value)


async def test_redfish_closed_port_fails_at_once() -> None:
    driver = RedfishDriver(BmcTarget("http://127.0.0.1", free_tcp_port(), "a", "b", 5.0))
    with pytest.raises(OutOfBandError, match="could not be reached"):
        await driver.power(PowerAction.STATUS)


async def test_redfish_silent_bmc_fails_within_the_timeout() -> None:
    # Accepts connections (the kernel's backlog) but never answers a request.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        driver = RedfishDriver(BmcTarget("http://127.0.0.1", port, "a", "b", timeout=2.0))
        started = time.monotonic()
        with pytest.raises(OutOfBandError, match="did not answer"):
            await driver.power(PowerAction.OFF)
        assert time.monotonic() - started < 2.0 + _MARGIN


def test_redfish_address_says_how_to_reach_the_bmc() -> None:
    assert base_url("10.0.0.5", 443) == ("https://10.0.0.5:443", True)
    assert base_url("https://bmc.example", 8443) == ("https://bmc.example:8443", True)
    assert base_url("https+insecure://10.0.0.5", 443) == ("https://10.0.0.5:443", False)
    assert base_url("http://127.0.0.1", 8000) == ("http://127.0.0.1:8000", True)


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_ipmi_sim_in_a_network_namespace() -> None:
    namespace = f"alto-bmc-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        with IpmiSim(netns=namespace) as sim:
            assert sim.port == 623
            assert sim.ipmitool("chassis", "power", "on").returncode == 0
            assert sim.power_is_on()
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)
