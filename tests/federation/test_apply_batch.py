"""Applying a whole page of entries at once decides exactly as one entry at a time would.

``apply_pending`` caches versions and rows for the batch; these tests deliver the same
log to one region in one exchange and to another entry by entry, and check the cache
sees the batch's own deletes (an account's users deleted with it), and that the batch
stays within a few statements per entry (the point of it).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, select

from altostratus.db.models import Account, EntityVersion, User
from altostratus.runtime import Runtime
from altostratus.services.compute import teardown
from altostratus.services.identity.accounts import start_account_deletion
from tests.federation.support import (
    as_admin,
    dump,
    exchange,
    federated_runtimes,
    log_entries,
    new_account,
)


async def _account_with_users(runtime: Runtime, name: str, users: int) -> str:
    """A new account ``name`` in ROOT with ``users`` more users (plain rows); its UUID."""
    async with as_admin(runtime) as ctx:
        created = await new_account(ctx, name, ctx.caller.domain_uuid, f"{name}-first")
        account = created.account
        for index in range(users):
            ctx.session.add(
                User(
                    username=f"{name}-{index}",
                    account_id=account.id,
                    domain_id=account.domain_id,
                    password_hash="x",
                    firstname="f",
                    lastname="l",
                    email="e@example.org",
                )
            )
        return account.uuid


async def _versions(runtime: Runtime) -> dict[tuple[str, str], tuple[str, bool]]:
    async with runtime.db.transaction(write=False) as session:
        rows = await session.execute(select(EntityVersion))
        return {(v.entity_type, v.entity_key): (v.version, v.deleted) for (v,) in rows}


async def test_one_batch_ends_as_entry_by_entry(tmp_path: Path) -> None:
    a, b, c = await federated_runtimes(tmp_path, 3)
    try:
        kept = await _account_with_users(a, "kept", 5)
        await _account_with_users(a, "gone", 5)
        async with a.db.transaction() as session:
            users = list(await session.scalars(select(User).where(User.username.like("kept-%"))))
            for user in users[:3]:
                user.email = f"new-{user.username}@example.org"
            await session.delete(users[3])
        async with as_admin(a) as ctx:
            gone = await ctx.session.scalar(select(Account).where(Account.name == "gone"))
            assert gone is not None
            await start_account_deletion(ctx, account_uuid=gone.uuid)
            await teardown.remove_accounts(ctx, [gone.uuid])

        assert (await exchange(a, b))[2] == 0
        for entry in await log_entries(a):
            await exchange(a, c, [entry])

        assert await dump(b) == await dump(c) == await dump(a)
        assert await _versions(b) == await _versions(c) == await _versions(a)
        assert kept in (await dump(b))["account"]
        assert not any(name.startswith("gone") for name in _usernames(await dump(b)))
    finally:
        for runtime in (a, b, c):
            await runtime.close()


async def test_update_of_a_user_deleted_with_its_account_in_the_batch(tmp_path: Path) -> None:
    """Region 2 updates a user while region 1 deletes the user's account; a third region
    applies both in one batch, the delete first: the user stays deleted."""
    a, b, c = await federated_runtimes(tmp_path, 3)
    try:
        account_uuid = await _account_with_users(a, "doomed", 2)
        await exchange(a, b)
        await exchange(a, c)
        async with b.db.transaction() as session:
            user = await session.scalar(select(User).where(User.username == "doomed-0"))
            assert user is not None
            user.email = "late@example.org"
            user_uuid = user.uuid
        async with as_admin(a) as ctx:
            await start_account_deletion(ctx, account_uuid=account_uuid)
            await teardown.remove_accounts(ctx, [account_uuid])

        await exchange(a, c, await log_entries(a) + await log_entries(b))

        state = await dump(c)
        assert user_uuid not in state["user"]
        assert account_uuid not in state["account"]
        assert (await _versions(c))[("user", user_uuid)][1] is True
        # Once everything has met everything, the regions agree.
        await exchange(b, a)
        await exchange(a, b)
        assert await dump(a) == await dump(b) == state
    finally:
        for runtime in (a, b, c):
            await runtime.close()


async def test_a_batch_takes_few_statements_per_entry(tmp_path: Path) -> None:
    a, b = await federated_runtimes(tmp_path, 2)
    try:
        await _account_with_users(a, "many", 200)
        wire = await log_entries(a)
        statements: list[str] = []

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(b.db.engine.sync_engine, "before_cursor_execute", count)
        await exchange(a, b, wire)
        event.remove(b.db.engine.sync_engine, "before_cursor_execute", count)

        assert len((await dump(b))["user"]) == len((await dump(a))["user"])
        # A create is a name check and an insert; everything else is per page.
        assert len(statements) < 2 * len(wire) + 30, len(statements)
    finally:
        await a.close()
        await b.close()


def _usernames(state: dict[str, dict[str, dict[str, object]]]) -> list[str]:
    return [str(user["username"]) for user in state["user"].values()]
