"""Drivers under test: libvirt's on its own ``test:///default`` hypervisor, and a template."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from altostratus.agent.drivers.libvirt import LibvirtDriver


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "claims(*flags): a driver check for drivers whose capabilities have the flags"
    )


@pytest.fixture
async def libvirt_driver(tmp_path: Path) -> AsyncIterator[LibvirtDriver]:
    """A fresh hypervisor per test: ``test:///default`` forgets all when its last user closes."""
    pytest.importorskip("libvirt", reason="libvirt-python is the `libvirt` extra")
    from altostratus.agent.drivers.libvirt import LibvirtDriver

    driver = LibvirtDriver("test:///default", tmp_path / "storage", shutdown_timeout=5)
    yield driver
    await driver.close()


@pytest.fixture
def template(tmp_path: Path) -> str:
    """A file:// template URL; only its first bytes (qcow2's magic) look like an image."""
    image = tmp_path / "linux.qcow2"
    image.write_bytes(b"QFI\xfb" + bytes(4096))
    return image.as_uri()
