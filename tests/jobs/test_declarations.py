"""Each job kind is declared once, by the command that submits it, under its name."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from altostratus.api.registry import build_registry
from altostratus.ha.hosts.investigation import INVESTIGATE
from altostratus.jobs.kinds import JobKind, JobPayload
from altostratus.jobs.run import JobRun
from altostratus.services.compute import jobs as vm_jobs
from altostratus.services.network import jobs as network_jobs
from altostratus.services.network.security_groups import RuleSpec


async def _body(run: JobRun, payload: JobPayload) -> None:
    raise AssertionError("not run")


def test_the_executor_runs_the_job_of_every_command_declaring_one() -> None:
    """And the region's own jobs, which no command submits (host HA's investigation)."""
    registry = build_registry()
    declaring = {command.name for command in registry if command.job is not None}
    assert set(registry.job_handlers) == declaring | {INVESTIGATE.name}
    assert INVESTIGATE.name not in {command.name for command in registry}
    assert {"deployVirtualMachine", "createVolume", "reconnectHost"} <= declaring
    assert all(command.is_async for command in registry if command.job is not None)


def test_a_kind_takes_the_name_of_its_command() -> None:
    """Host maintenance submits stop jobs by the kind, never by spelling its name."""
    build_registry()
    assert vm_jobs.STOP.name == "stopVirtualMachine"
    assert network_jobs.AUTHORIZE["egress"].name == "authorizeSecurityGroupEgress"


def test_a_kind_belongs_to_one_command() -> None:
    kind: JobKind[JobPayload, None] = JobKind(JobPayload, _body)
    with pytest.raises(LookupError, match="No command declares"):
        _ = kind.name
    kind.bind("oneCommand")
    kind.bind("oneCommand")
    with pytest.raises(ValueError, match="declared again as otherCommand"):
        kind.bind("otherCommand")


def test_payloads_stored_in_the_earlier_format_still_load() -> None:
    """Jobs submitted before an upgrade are resumed by the upgraded servers."""
    maintenance_stop = vm_jobs.StopPayload.model_validate({"id": "vm-1", "forced": False})
    assert (maintenance_stop.id, maintenance_stop.requested) == ("vm-1", False)
    rule: dict[str, Any] = {
        "protocol": "tcp",
        "start_port": 22,
        "end_port": 22,
        "icmp_type": None,
        "icmp_code": None,
        "cidr": "0.0.0.0/0",
        "source_group_id": None,
    }
    rules = network_jobs.RulesPayload.model_validate(
        {"group": "sg-1", "direction": "ingress", "rules": [rule]}
    )
    assert rules.rules == (RuleSpec(**rule),)
    assert network_jobs.RulesPayload.model_validate_json(rules.model_dump_json()) == rules


def test_a_payload_is_frozen_and_refuses_unknown_fields() -> None:
    payload = vm_jobs.DestroyPayload(id="vm-1", expunge=True)
    with pytest.raises(ValidationError):
        payload.expunge = False  # type: ignore[misc]
    with pytest.raises(ValidationError, match="vm_uuid"):
        vm_jobs.DestroyPayload.model_validate({"id": "vm-1", "expunge": True, "vm_uuid": "x"})
