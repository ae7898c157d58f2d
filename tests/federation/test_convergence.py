"""Whatever order, batching and duplication log entries arrive in, regions converge.

Three in-process regions (SQLite) start from one shared world. Hypothesis draws a
history: identity changes made in chosen regions (creates, updates, state changes,
deletes, concurrent updates of one user in two regions, same-name creates in two
regions), interleaved with partial, reordered and repeated deliveries between chosen
pairs of regions. Afterwards every region's log reaches every other region in a drawn
order, and all regions must hold identical global tables, each entity in the state of
its highest version (the same loser of every concurrent update everywhere).

The history never deletes one side of a same-name clash alone: that case is a known
limit of the core (docs/federation.md: the rename can differ until the audit repairs
it). Both sides of a clash live under ``base``, and deleting ``base`` removes both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from altostratus.core.context import ServiceContext
from altostratus.db.models import EntityState
from altostratus.errors import CloudError
from altostratus.federation.apply import WireEntry
from altostratus.federation.entities import spec_named
from altostratus.runtime import Runtime
from altostratus.services.compute import teardown
from altostratus.services.identity.accounts import AccountRef, start_account_deletion
from altostratus.services.identity.accounts import set_account_state as set_account_state_
from altostratus.services.identity.domains import (
    create_domain,
    start_domain_deletion,
    update_domain,
)
from altostratus.services.identity.users import (
    create_user,
    delete_user,
    set_user_state,
    update_user,
)
from altostratus.settings import Settings
from tests.federation.support import (
    Dump,
    as_admin,
    build_federation,
    copy_federation,
    dump,
    exchange,
    log_entries,
    new_account,
    new_user,
    start_all,
    vector,
)

REGIONS = 3
#: The shared world (created in region 1 before the copies): names → UUIDs.
BASE_ACCOUNTS = ("acct0", "acct1")
BASE_USERS = ("u0", "u1", "u2")  # u0 and u1 in acct0, u2 in acct1
ROOT = "ROOT"


@dataclass(frozen=True)
class World:
    regions: list[Settings]
    uuids: dict[str, str]


async def _create_base(runtime: Runtime, uuids: dict[str, str]) -> None:
    async with as_admin(runtime) as ctx:
        root = ctx.caller.domain_uuid
        base = await create_domain(
            ctx, name="base", parent_uuid=root, network_domain=None, domain_uuid=None
        )
        sub = await create_domain(
            ctx, name="sub", parent_uuid=base.domain.uuid, network_domain=None, domain_uuid=None
        )
        uuids.update(ROOT=root, base=base.domain.uuid, sub=sub.domain.uuid)
        for account_name, first, others in (("acct0", "u0", ("u1",)), ("acct1", "u2", ())):
            created = await new_account(ctx, account_name, base.domain.uuid, first)
            uuids[account_name] = created.account.uuid
            uuids[first] = created.users[0].uuid
            for username in others:
                user = await create_user(
                    ctx,
                    account_name=account_name,
                    domain_uuid=base.domain.uuid,
                    spec=new_user(username),
                )
                uuids[username] = user.uuid


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    uuids: dict[str, str] = {}

    async def prepare(runtime: Runtime) -> None:
        await _create_base(runtime, uuids)

    regions = asyncio.run(build_federation(tmp_path_factory.mktemp("federation"), REGIONS, prepare))
    return World(regions, uuids)


# --- the history ------------------------------------------------------------------------

Action = Callable[[ServiceContext, dict[str, str], str], Coroutine[Any, Any, object]]


async def _create_domain(ctx: ServiceContext, uuids: dict[str, str], arg: str) -> object:
    name, parent = arg.split("@")
    return await create_domain(
        ctx, name=name, parent_uuid=uuids[parent], network_domain=None, domain_uuid=None
    )


async def _create_account(ctx: ServiceContext, uuids: dict[str, str], arg: str) -> object:
    name, domain = arg.split("@")
    return await new_account(ctx, name, uuids[domain], name)


async def _create_user(ctx: ServiceContext, uuids: dict[str, str], arg: str) -> object:
    username, account = arg.split("@")
    return await create_user(
        ctx, account_name=account, domain_uuid=uuids["base"], spec=new_user(username)
    )


async def _update_user(ctx: ServiceContext, uuids: dict[str, str], arg: str) -> object:
    user, field, value = arg.split(":")
    changes = {
        name: value if name == field else None for name in ("email", "firstname", "lastname")
    }
    return await update_user(
        ctx,
        user_uuid=uuids[user],
        username=None,
        timezone=None,
        password=None,
        current_password=None,
        **changes,
    )


async def _set_user_state(ctx: ServiceContext, uuids: dict[str, str], arg: str) -> object:
    user, state = arg.split(":")
    return await set_user_state(ctx, user_uuid=uuids[user], state=EntityState(state))


async def _set_account_state(ctx: ServiceContext, uuids: dict[str, str], arg: str) -> object:
    account, state = arg.split(":")
    ref = AccountRef(uuids[account], None, None)
    return await set_account_state_(ctx, ref=ref, state=EntityState(state))


async def _delete_user(ctx: ServiceContext, uuids: dict[str, str], arg: str) -> object:
    await delete_user(ctx, user_uuid=uuids[arg])
    return None


async def _delete_account(ctx: ServiceContext, uuids: dict[str, str], arg: str) -> object:
    # The request and then its job's last step, in one transaction (no VMs to expunge).
    account = await start_account_deletion(ctx, account_uuid=uuids[arg])
    await teardown.remove_accounts(ctx, [account.uuid])
    return None


async def _delete_domain(ctx: ServiceContext, uuids: dict[str, str], arg: str) -> object:
    deletion = await start_domain_deletion(ctx, domain_uuid=uuids[arg], cleanup=True)
    await teardown.remove_domain_tree(ctx, deletion)
    return None


async def _rename_domain(ctx: ServiceContext, uuids: dict[str, str], arg: str) -> object:
    return await update_domain(ctx, domain_uuid=uuids["sub"], name=arg, network_domain=None)


ACTIONS: dict[str, Action] = {
    "create_domain": _create_domain,
    "create_account": _create_account,
    "create_user": _create_user,
    "update_user": _update_user,
    "set_user_state": _set_user_state,
    "set_account_state": _set_account_state,
    "delete_user": _delete_user,
    "delete_account": _delete_account,
    "delete_domain": _delete_domain,
    "rename_domain": _rename_domain,
}


@dataclass(frozen=True)
class Change:
    """``action(arg)`` made in each of ``regions`` in turn, with nothing delivered between."""

    action: str
    arg: str
    regions: tuple[int, ...]


@dataclass(frozen=True)
class Delivery:
    """``src``'s log (or the slice ``[start:start+length]`` of it) handed to ``dst``."""

    src: int
    dst: int
    window: tuple[int, int] | None
    backwards: bool
    twice: bool


_region = st.integers(0, REGIONS - 1)
_two_regions = st.lists(_region, min_size=2, max_size=2, unique=True).map(tuple)
_user = st.sampled_from(BASE_USERS)
_field = st.sampled_from(("email", "firstname", "lastname"))
_state = st.sampled_from(("enabled", "disabled"))


@st.composite
def _update(draw: st.DrawFn) -> str:
    # The value names nothing of the region: the winner is decided by version alone.
    return f"{draw(_user)}:{draw(_field)}:{draw(st.sampled_from(('x', 'y', 'z')))}"


def _one(action: str, args: st.SearchStrategy[str]) -> st.SearchStrategy[Change]:
    return st.builds(Change, st.just(action), args, _region.map(lambda r: (r,)))


@st.composite
def _create_user_change(draw: st.DrawFn) -> Change:
    """Each region creates its own usernames: a user clash could be half-deleted (above)."""
    region = draw(_region)
    return Change("create_user", f"v{region}@{draw(st.sampled_from(BASE_ACCOUNTS))}", (region,))


# Same-name creates and concurrent updates, made in two regions before either hears of
# the other's; created names only ever clash with each other, never with the base world.
_both: st.SearchStrategy[Change] = st.one_of(
    st.builds(Change, st.just("update_user"), _update(), _two_regions),
    st.builds(
        Change,
        st.just("create_account"),
        st.sampled_from(("a0@base", "a1@sub")),
        _two_regions,
    ),
    st.builds(
        Change,
        st.just("create_domain"),
        st.sampled_from(("n0@base", "n1@sub", "n2@ROOT")),
        _two_regions,
    ),
)

CHANGES: st.SearchStrategy[Change] = st.one_of(
    _both,
    _one("create_domain", st.sampled_from(("n0@base", "n1@sub", "n2@ROOT"))),
    _one("create_account", st.sampled_from(("a0@base", "a1@sub"))),
    _create_user_change(),
    _one("update_user", _update()),
    _one("set_user_state", st.builds("{}:{}".format, _user, _state)),
    _one("set_account_state", st.builds("{}:{}".format, st.sampled_from(BASE_ACCOUNTS), _state)),
    _one("delete_user", _user),
    _one("delete_account", st.sampled_from(BASE_ACCOUNTS)),
    _one("delete_domain", st.sampled_from(("sub", "base"))),
    _one("rename_domain", st.sampled_from(("s1", "s2"))),
)

DELIVERIES: st.SearchStrategy[Delivery] = st.builds(
    Delivery,
    _region,
    _region,
    st.none() | st.tuples(st.integers(0, 30), st.integers(0, 12)),
    st.booleans(),
    st.booleans(),
).filter(lambda d: d.src != d.dst)

STEPS = st.lists(st.one_of(CHANGES, DELIVERIES), min_size=3, max_size=16)
FINAL_ORDER = st.permutations([(s, d) for s in range(REGIONS) for d in range(REGIONS) if s != d])


# --- running it ---------------------------------------------------------------------------


async def _change(runtimes: list[Runtime], uuids: dict[str, str], change: Change) -> None:
    for index in change.regions:
        # A change whose target this region already deleted fails here, changing nothing,
        # exactly as the API call would.
        try:
            async with as_admin(runtimes[index]) as ctx:
                await ACTIONS[change.action](ctx, uuids, change.arg)
        except CloudError:
            pass


async def _deliver(runtimes: list[Runtime], delivery: Delivery) -> None:
    entries = await log_entries(runtimes[delivery.src])
    if delivery.window is not None:
        start, length = delivery.window
        entries = entries[start : start + length]
    if delivery.backwards:
        entries.reverse()
    for _ in range(2 if delivery.twice else 1):
        await exchange(runtimes[delivery.src], runtimes[delivery.dst], entries)


async def _gossip(runtimes: list[Runtime], order: list[tuple[int, int]]) -> None:
    """Full exchanges in ``order`` until every region has every origin's whole log."""
    for _round in range(REGIONS + 1):
        vectors = [await vector(runtime) for runtime in runtimes]
        if all(v == vectors[0] for v in vectors):
            return
        for src, dst in order:
            await exchange(runtimes[src], runtimes[dst])
    raise AssertionError(f"vectors still differ: {[await vector(r) for r in runtimes]}")


def _winners(entries: list[WireEntry]) -> dict[tuple[str, str], WireEntry]:
    best: dict[tuple[str, str], WireEntry] = {}
    for entry in entries:
        key = (entry["entity_type"], entry["entity_key"])
        if key not in best or entry["version"] > best[key]["version"]:
            best[key] = entry
    return best


def assert_highest_versions_won(tables: Dump, entries: list[WireEntry]) -> None:
    """Every entity holds its newest logged state (names may carry a clash suffix)."""
    winners = _winners(entries)
    for entity_type, rows in tables.items():
        spec = spec_named(entity_type)
        for key, state in rows.items():
            winner = winners.get((entity_type, key))
            if winner is None:
                continue  # bootstrap rows, never changed
            assert winner["payload"] is not None, f"{entity_type} {key} outlived its tombstone"
            for name, value in orjson.loads(winner["payload"]).items():
                if name == spec.name_column and state[name] != value:
                    assert state[name].startswith(f"{value}-"), (entity_type, key, state)
                else:
                    assert state[name] == value, (entity_type, key, name, state)


async def _run(world: World, target: Path, steps: list[Change | Delivery], order: Any) -> None:
    runtimes = await start_all(copy_federation(world.regions, target))
    try:
        for step in steps:
            if isinstance(step, Change):
                await _change(runtimes, world.uuids, step)
            else:
                await _deliver(runtimes, step)
        await _gossip(runtimes, order)
        for runtime in runtimes:  # nothing may stay waiting for a reference
            assert await exchange(runtime, runtime, []) == (0, 0, 0)
        tables = [await dump(runtime) for runtime in runtimes]
        for index, other in enumerate(tables[1:], start=2):
            assert other == tables[0], f"region {index} differs from region 1"
        assert_highest_versions_won(tables[0], await log_entries(runtimes[0]))
    finally:
        for runtime in runtimes:
            await runtime.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=STEPS, order=FINAL_ORDER)
def test_any_delivery_order_converges(
    world: World,
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[Change | Delivery],
    order: list[tuple[int, int]],
) -> None:
    asyncio.run(_run(world, tmp_path_factory.mktemp("example"), steps, order))
