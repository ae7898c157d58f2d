"""What management servers and agents say to each other: command kinds and their shapes.

Shared by both sides, so a job that queues a command and the agent that runs it cannot
disagree about its fields. A command's ``uuid`` is its idempotency key: an agent that
is handed a command again answers with its first result.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "LEASE_HELD",
    "Answer",
    "CheckHost",
    "CommandKind",
    "Delivery",
    "DestroyVm",
    "Exchange",
    "ExchangeReply",
    "Heartbeat",
    "HeartbeatReply",
    "HostCheck",
    "HostFacts",
    "NicSpec",
    "RebootVm",
    "Registered",
    "Registration",
    "ScaleVm",
    "SnapshotVolume",
    "StartVm",
    "StopVm",
    "VmSnapshotCommand",
    "VolumeCommand",
    "VolumeSpec",
]


#: In the error of a start refused because another host holds a live lease on one of the
#: VM's disks; host HA's restarts look for it to try again once the lease ran out.
LEASE_HELD = "is leased by host"


class CommandKind(enum.StrEnum):
    START_VM = "StartVm"
    STOP_VM = "StopVm"
    REBOOT_VM = "RebootVm"
    DESTROY_VM = "DestroyVm"
    SCALE_VM = "ScaleVm"
    CREATE_VM_SNAPSHOT = "CreateVmSnapshot"
    REVERT_VM_SNAPSHOT = "RevertVmSnapshot"
    DELETE_VM_SNAPSHOT = "DeleteVmSnapshot"
    ATTACH_VOLUME = "AttachVolume"
    DETACH_VOLUME = "DetachVolume"
    RESIZE_VOLUME = "ResizeVolume"
    DELETE_VOLUME = "DeleteVolume"
    CREATE_SNAPSHOT = "CreateSnapshot"
    DELETE_SNAPSHOT = "DeleteSnapshot"
    CHECK_HOST = "CheckHost"


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class HostFacts(_Message):
    """What an agent reports about its host when it registers."""

    name: str
    hypervisor: str
    cpu_number: int
    #: MHz per core.
    cpu_speed: int
    memory_mb: int
    hypervisor_version: str | None = None
    agent_version: str | None = None
    ip_address: str | None = None
    host_tags: list[str] = []
    #: ``ADDRESS:PORT`` of the agent's probe listener, for neighbours' HA checks.
    probe_address: str | None = None


class VolumeSpec(_Message):
    uuid: str
    #: 0 is the root disk.
    device_id: int
    size: int
    #: The template to build a root disk from (``None`` for a blank data disk).
    template_url: str | None = None
    template_format: str | None = None


class NicSpec(_Message):
    mac_address: str
    ip_address: str | None = None
    netmask: str | None = None
    gateway: str | None = None


class StartVm(_Message):
    """Define (if needed) and start a VM; answered ``{"power_state": "PowerOn"}``."""

    instance_name: str
    vm_uuid: str
    cpu_number: int
    cpu_speed: int
    memory_mb: int
    volumes: list[VolumeSpec]
    nics: list[NicSpec] = []
    user_data: str | None = None
    ssh_public_key: str | None = None
    #: A VM that may be scaled while it runs is given room to grow into: at most this
    #: many vCPUs and this much memory (``None``: exactly its size, as a fixed VM).
    max_cpu_number: int | None = None
    max_memory_mb: int | None = None


class ScaleVm(_Message):
    """Give a running VM its new offering's vCPUs and memory, within its maxima."""

    instance_name: str
    cpu_number: int
    cpu_speed: int
    memory_mb: int


class StopVm(_Message):
    instance_name: str
    #: Power off at once instead of asking the guest to shut down.
    forced: bool = False


class RebootVm(_Message):
    instance_name: str


class DestroyVm(_Message):
    """Stop and undefine the VM and delete its disks (expunge)."""

    instance_name: str
    volume_uuids: list[str] = []


class VmSnapshotCommand(_Message):
    """Take, revert to or delete a snapshot of a whole VM, named ``snapshot_name``.

    ``memory``: the snapshot holds the running VM's memory too, so reverting to it
    leaves the VM running as it was; a disk-only one leaves it stopped.
    """

    instance_name: str
    snapshot_name: str
    memory: bool = False


class VolumeCommand(_Message):
    """Attach, detach, resize or delete one volume (``instance_name`` when attached)."""

    volume: VolumeSpec
    instance_name: str | None = None


class SnapshotVolume(_Message):
    """Create (answered ``{"path": ..., "size": ...}``) or delete a volume snapshot."""

    snapshot_uuid: str
    volume_uuid: str
    instance_name: str | None = None


class CheckHost(_Message):
    """Ask a neighbour about a suspect host; answered with a ``HostCheck``."""

    host_name: str
    probe_address: str | None = None
    volume_uuids: list[str] = []


class HostCheck(_Message):
    #: Whether the suspect's probe listener answered (``None``: it has none).
    reachable: bool | None = None
    #: Seconds since the suspect's storage heartbeat (``None``: no shared storage/file).
    heartbeat_age: float | None = None
    #: Seconds since the freshest lease renewal of the listed disks (``None``: none).
    disk_activity_age: float | None = None


# --- the wire between an agent and a management server (``/agent/v1``) ---


class Delivery(_Message):
    """A command handed to an agent; ``id`` (the command's uuid) is its idempotency key."""

    id: str
    kind: CommandKind
    payload: dict[str, Any]


class Answer(_Message):
    """The agent's result of a command: ``{"error": "..."}`` when it failed."""

    id: str
    result: dict[str, Any]

    @property
    def failed(self) -> bool:
        return "error" in self.result


class Registration(_Message):
    """An agent introducing its host, with its zone's registration token."""

    token: str
    facts: HostFacts
    #: How the management server names the agent (``agent://NAME`` when not given).
    url: str | None = None
    #: The cluster to join when the host is new (default: the zone's first of its hypervisor).
    cluster: str | None = None


class Registered(_Message):
    host_id: str
    #: The secret the agent authenticates with from now on (with ``host_id``).
    key: str
    heartbeat_interval: float


class Heartbeat(_Message):
    #: instance name → ``PowerOn``/``PowerOff``, for every VM the hypervisor has.
    power_states: dict[str, str]


class HeartbeatReply(_Message):
    state: str
    resource_state: str


class Exchange(_Message):
    """Answers of finished commands, and a wait (seconds) for new ones (a long poll)."""

    answers: list[Answer] = []
    wait: float = 0.0


class ExchangeReply(_Message):
    commands: list[Delivery]
