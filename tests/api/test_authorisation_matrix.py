"""The authorisation matrix: every command, the three roles, their own and bob's objects.

The cells come from the registry (``tests.support.authz``), so a new command brings its
cells, and a UUID parameter the matrix cannot map fails until a table names its kind:

* ``role``: a role the declaration does not allow is refused (531, the dispatcher's
  "not allowed to call") and nothing in the database changes;
* ``bob``: the domain admin of d1 or the user alice names bob's object (d2) in an object
  parameter, every other required parameter being valid and their own. A listing hides
  it (200, bob's object absent); any other command refuses it as not found (431 naming
  its id) or, for ``domainid`` with ``account`` (acting for bob), as a domain the caller
  may not work in (531). Nothing in the database changes;
* ``own``: the same call with the caller's own object is not refused for permission
  (not 531 or 432, not "unable to find" it). It may fail for another reason (a state);
  a listing by the object's id lists it.

One world for the module, on SQLite: the objects are made with the job executor
running, then the matrix runs on a server without background work, so that "nothing
changed" compares the whole database.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from altostratus.api.app import create_app
from altostratus.api.commands.storage.volumes import VolumeResponse
from altostratus.api.declarations import ANYONE, Command, CommandSet
from altostratus.api.params import Params, Uuid, api_type_of
from altostratus.api.registry import Registry, build_registry
from altostratus.api.results import Success
from altostratus.core.context import ServiceContext
from tests import conftest
from tests.conftest import Template
from tests.support.authz import ALIASES, TENANT, Cell, cells, kind_of, noun, uuid_params
from tests.support.authz_world import (
    PAYLOAD_URL,
    USAGE_DAY,
    World,
    build_world,
    key_pair_name,
    public_key,
    unique_name,
)
from tests.support.client import Answer, ApiClient
from tests.support.compute_world import seed_compute, wait_hosts_up
from tests.support.fuzz import Snapshot, snapshot
from tests.support.world import PASSWORD, Identity

pytestmark = [pytest.mark.xdist_group("authz"), pytest.mark.asyncio(loop_scope="module")]

REGISTRY = build_registry()
CELLS = cells(REGISTRY)

#: Values of required parameters that name no object, by name (callables: per call).
FILLERS: dict[str, Any] = {
    "name": unique_name,
    "displaytext": unique_name,
    "username": unique_name,
    "password": PASSWORD,
    "email": "someone@example.org",
    "firstname": "Some",
    "lastname": "One",
    "url": "http://images.example.org/authz.qcow2",
    "format": "QCOW2",
    "hypervisor": "Simulator",
    "protocol": "tcp",
    "type": "host anti-affinity",
    "publickey": public_key,
    "lock": "true",
    "templatefilter": "self",
    "payloadurl": PAYLOAD_URL,
    "startdate": USAGE_DAY.date().isoformat(),
    "enddate": USAGE_DAY.date().isoformat(),
    "intervaltype": "WEEKLY",
    "schedule": "00:01:1",
    "timezone": "UTC",
    "maxsnaps": "1",
}
#: Where a parameter's filler depends on the command.
COMMAND_FILLERS: dict[tuple[str, str], Any] = {
    ("createTags", "resourcetype"): "UserVm",
    ("deleteTags", "resourcetype"): "UserVm",
    ("updateResourceLimit", "resourcetype"): "0",
    ("updateConfiguration", "name"): "default.page.size",
    ("updateConfiguration", "value"): "100",
    ("resetConfiguration", "name"): "default.page.size",
}


#: Parameters always sent to a command, where its required ones are not enough.
EXTRAS: dict[str, dict[str, str]] = {
    "createAccount": {"accounttype": "0"},
    "listUsageRecords": {"type": "1"},  # RUNNING_VM: its usageid is a VM (ALIASES)
    "authorizeSecurityGroupIngress": {"startport": "22", "endport": "22", "cidrlist": "10.0.0.0/8"},
    "authorizeSecurityGroupEgress": {"startport": "22", "endport": "22", "cidrlist": "10.0.0.0/8"},
}
#: Optional object parameters a command needs one of (or its name): the caller's own
#: object fills them when the cell's target is another parameter.
COMPANIONS: dict[str, tuple[str, str]] = {
    "authorizeSecurityGroupIngress": ("securitygroupid", "securitygroup"),
    "authorizeSecurityGroupEgress": ("securitygroupid", "securitygroup"),
    "deleteAffinityGroup": ("id", "affinitygroup"),
    "deleteSecurityGroup": ("id", "securitygroup"),
}

#: Object parameters besides ``id`` through which a command uses objects up (the
#: deliveries of ``webhookid`` are deleted): their "own" cell gets a spare object.
CONSUMED_THROUGH = frozenset({("deleteWebhookDelivery", "webhookid")})

#: Listing filters other than the listed objects' own ids that list what names the
#: caller's object (the usage records of the world's VMs, ``authz_world``).
LISTED_BY = frozenset({("listUsageRecords", "usageid")})

#: Commands that act only on a Stopped VM: their VM is the caller's stopped one.
ON_STOPPED_VMS = frozenset({"updateVMAffinityGroup", "resetSSHKeyForVirtualMachine"})


@dataclass
class Matrix:
    app: Starlette
    world: World
    clients: dict[str, ApiClient]
    identities: dict[str, Identity]
    #: A connection of its own to the database file, to tell whether anyone committed.
    watch: sqlite3.Connection
    #: The database as the last refused call left it, and its ``data_version`` then.
    last: tuple[Snapshot, int] | None = None

    def version(self) -> int:
        """SQLite's ``data_version``: it moves when another connection commits."""
        return int(self.watch.execute("PRAGMA data_version").fetchone()[0])

    async def unchanged_since(self) -> Snapshot:
        """The database now, as of the last refused call if nothing was committed since
        (cheap); else read table by table."""
        if self.last is not None and self.version() == self.last[1]:
            return self.last[0]
        version = self.version()
        self.last = (await snapshot(self.app.state.runtime.db), version)
        return self.last[0]


def _spares() -> list[tuple[str, str, str]]:
    """What the "own" cells of commands that use their objects up need a spare of: the
    object the command is about (in ``id``, or the account acted for) and any companion."""
    wanted: set[tuple[str, str, str]] = set()
    for cell in CELLS:
        if cell.target != "own" or not cell.consumes:
            continue
        subject = kind_of(_command(cell), "id") or noun(_command(cell))
        if (
            cell.param == "id"
            or cell.kind == subject
            or (cell.command, cell.param) in CONSUMED_THROUGH
        ):
            wanted.add((cell.role, cell.id, cell.kind))
        elif cell.param == "domainid" and subject == "account":
            wanted.add((cell.role, cell.id, "account"))
        if cell.command in COMPANIONS:
            wanted.add((cell.role, cell.id, COMPANIONS[cell.command][1]))
    return sorted(wanted)


def _clients(http: httpx.AsyncClient, template: Template) -> dict[str, ApiClient]:
    return {
        name: ApiClient(http, who.api_key, who.secret_key)
        for name, who in template.identities.items()
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix(
    templates: dict[str, Template], tmp_path_factory: pytest.TempPathFactory, key_file: Path
) -> AsyncIterator[Matrix]:
    if "sqlite" not in templates:
        pytest.skip("the matrix runs on SQLite (ALTO_TEST_BACKENDS leaves it out)")
    template = templates["sqlite"]
    data = tmp_path_factory.mktemp("authz")
    shutil.copyfile(template.source, data / "alto.db")
    url = f"sqlite:///{data / 'alto.db'}"
    building = create_app(conftest.test_settings(data / "data", url, key_file))
    async with building.router.lifespan_context(building):
        compute = await seed_compute(building.state.runtime)
        await wait_hosts_up(building.state.runtime, compute.host_ids)
        transport = httpx.ASGITransport(app=building)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            world = await build_world(
                building.state.runtime,
                compute,
                _clients(http, template),
                template.identities,
                _spares(),
            )
    settings = conftest.test_settings(data / "data", url, key_file, compute_workers=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            clients = _clients(http, template)
            for side in world.sides.values():
                side.client = clients[side.name]
            watch = sqlite3.connect(data / "alto.db")
            try:
                yield Matrix(app, world, clients, template.identities, watch)
            finally:
                watch.close()


def _command(cell: Cell) -> Command[Any]:
    command = REGISTRY.get(cell.command)
    assert command is not None
    return command


def _filler(command: Command[Any], name: str) -> str:
    value = COMMAND_FILLERS.get((command.name, name), FILLERS.get(name))
    if value is None:
        pytest.fail(
            f"{command.name}: no value for its required parameter {name}: add one to "
            "FILLERS (or COMMAND_FILLERS) in tests/api/test_authorisation_matrix.py"
        )
    return str(value() if callable(value) else value)


def _params(matrix: Matrix, cell: Cell, target_value: str) -> dict[str, str]:
    """Valid values for the required parameters (the caller's own objects), and
    ``target_value`` in the cell's parameter."""
    command, own = _command(cell), matrix.world.sides[cell.role]
    objects = set(uuid_params(command))
    params: dict[str, str] = dict(EXTRAS.get(command.name, {}))
    companion = COMPANIONS.get(command.name)
    if companion is not None and companion[0] != cell.param:
        params[companion[0]] = _own_object(matrix, cell, companion[1])
    for name, info in command.params.model_fields.items():
        if not info.is_required() or name == cell.param:
            continue
        if name in objects:
            kind = kind_of(command, name)
            if kind in matrix.world.shared:
                params[name] = matrix.world.shared[kind]  # usable as is (a public template)
            elif kind in TENANT:
                params[name] = _own_object(matrix, cell, kind)
            else:
                params[name] = str(uuid.uuid4())
        elif name == "keypair":
            params[name] = key_pair_name(own)
        elif name == "account":
            params[name] = own.account
        elif api_type_of(info) == "map":
            params.update({f"{name}[0].key": "matrix", f"{name}[0].value": "cell"})
        else:
            params[name] = _filler(command, name)
    params[cell.param] = target_value
    if cell.param == "domainid" and "account" in command.params.model_fields:
        # Acting for an account: bob's, or the caller's own (an account of its domain
        # for the domain admin; a spare one where the command uses the account up).
        side = matrix.world.sides["bob" if cell.target == "bob" else cell.role]
        spare = side.spares.get((cell.id, "account"))
        params["account"] = matrix.world.account_names[spare] if spare else side.account
    return params


def _own_object(matrix: Matrix, cell: Cell, kind: str) -> str:
    """The caller's object of ``kind``: a spare if the command uses it up."""
    side = matrix.world.sides[cell.role]
    if kind == "virtualmachine" and cell.command in ON_STOPPED_VMS:
        kind = "stoppedvirtualmachine"
    return side.spares.get((cell.id, kind)) or side.objects[kind]


def _target(matrix: Matrix, cell: Cell) -> str:
    side = matrix.world.sides["bob" if cell.target == "bob" else cell.role]
    if cell.kind == "domain" and cell.param == "domainid":
        return side.domain_id  # the side's own domain, named as where to act
    if cell.target == "own":
        return _own_object(matrix, cell, cell.kind)
    return side.objects[cell.kind]


async def _refused_without_change(matrix: Matrix, cell: Cell, call: Any) -> Answer:
    """``call``'s answer, asserting it changed no row of any table (the membership
    heartbeats aside: they commit too, so a commit is only where to look)."""
    before = await matrix.unchanged_since()
    answer: Answer = await call
    changed = before.differences(await matrix.unchanged_since())
    assert not changed, f"{cell.id} answered {answer.status} but changed {changed}"
    return answer


@pytest.mark.parametrize("cell", CELLS, ids=lambda cell: cell.id)
async def test_cell(matrix: Matrix, cell: Cell) -> None:
    if cell.target == "unmapped":
        pytest.fail(
            f"{cell.command}: the matrix cannot tell what its UUID parameter {cell.param} "
            "names: add its stem to TENANT or SHARED (or ALIASES) in tests/support/authz.py, "
            "or (command, parameter) to FRESH or NO_OBJECTS with a reason"
        )
    client = matrix.clients[cell.role]
    if cell.target == "role":
        answer = await _refused_without_change(matrix, cell, client.call(cell.command))
        assert answer.status == 531, f"{cell.id}: {answer.status} {answer.body}"
        assert "is not allowed to call" in answer.error_text
        return
    target = _target(matrix, cell)
    params = _params(matrix, cell, target)
    if cell.target == "bob":
        answer = await _refused_without_change(matrix, cell, client.call(cell.command, **params))
        expected = cell.expected(_command(cell))
        shown = f"{cell.id} {params}: {answer.status} {answer.body}"
        assert answer.status == expected, shown
        if expected == 200:
            assert target not in str(answer.body), shown
        elif expected == 431:
            assert target in answer.error_text, shown  # refused for that object
        return
    answer = await client.call(cell.command, **params)
    shown = f"{cell.id} {params}: {answer.status} {answer.body}"
    assert answer.status not in (531, 432), shown
    assert not ("Unable to find" in answer.error_text and target in answer.error_text), shown
    subject = noun(_command(cell))
    by_own_id = (
        cell.kind == ALIASES.get(subject, subject) or (cell.command, cell.param) in LISTED_BY
    )
    if cell.expected(_command(cell)) == 200 and by_own_id:
        # The listing by id that left bob's object out finds the caller's own.
        assert answer.status == 200, shown
        assert target in str(answer.body), shown
    keys = answer.body.get("userkeys")
    if target == matrix.identities[cell.role].user_id and isinstance(keys, dict):
        # registerUserKeys on oneself: the caller goes on with the new keys.
        matrix.clients[cell.role] = client.with_keys(keys["apikey"], keys["secretkey"])


class _GadgetParams(Params):
    id: Uuid
    gadgetid: Uuid | None = None


async def _gadget(_ctx: ServiceContext, _p: _GadgetParams) -> Success:
    return Success()


async def test_a_command_on_an_unknown_kind_gets_a_failing_cell() -> None:
    """A new command whose object parameter names a kind the matrix does not know has a
    cell that fails until a table names it; its known parameters have their cells."""
    gadgets = CommandSet()
    gadgets.command(
        "attachGadget",
        _GadgetParams,
        description="",
        allowed=ANYONE,
        response=("volume", VolumeResponse),
    )(_gadget)
    found = {cell.id for cell in cells(Registry([gadgets]))}
    assert found == {
        "attachGadget-d1admin-unmapped-gadgetid",
        "attachGadget-alice-unmapped-gadgetid",
        "attachGadget-d1admin-bob-id",
        "attachGadget-d1admin-own-id",
        "attachGadget-alice-bob-id",
        "attachGadget-alice-own-id",
    }
