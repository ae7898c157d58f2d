"""Roles and their permission rules are global: they reach every region, and so do deletes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from altostratus.core.context import ServiceContext
from altostratus.db.models import Permission, Role, RoleType
from altostratus.runtime import Runtime
from altostratus.services.identity import role_rules, roles
from altostratus.services.identity.accounts import create_account
from altostratus.services.identity.role_rules import NewRule
from tests.federation.support import (
    as_admin,
    dump,
    exchange,
    federated_runtimes,
    new_account,
    new_user,
)

COMMANDS = ("deployVirtualMachine", "listZones")


@pytest.fixture
async def regions(tmp_path: Path) -> AsyncIterator[list[Runtime]]:
    runtimes = await federated_runtimes(tmp_path, 2)
    try:
        yield runtimes
    finally:
        for runtime in runtimes:
            await runtime.close()


async def _rules(runtime: Runtime, role_uuid: str) -> list[tuple[str, str]]:
    async with as_admin(runtime) as ctx:
        found = await role_rules.list_rules(ctx, role_uuid=role_uuid)
        return [(row.rule, row.permission.value) for row in found]


async def test_every_region_has_the_default_roles_under_the_same_ids(
    regions: list[Runtime],
) -> None:
    first, second = [await dump(runtime) for runtime in regions]
    expected = {role.uuid for role in roles.DEFAULT_ROLES}
    assert set(first["role"]) == set(second["role"]) == expected


async def _user_role(ctx: ServiceContext, name: str) -> Role:
    """A new public role of the User type, with no rules yet."""
    return await roles.create_role(
        ctx, name=name, role_type=RoleType.USER, source_uuid=None, description="", is_public=True
    )


async def test_a_role_and_its_rules_replicate_and_an_account_may_use_it(
    regions: list[Runtime],
) -> None:
    r1, r2 = regions
    async with as_admin(r1) as ctx:
        role = await _user_role(ctx, "No deploy")
        deny = await role_rules.add_rule(
            ctx,
            role_uuid=role.uuid,
            rule=NewRule("deployVirtualMachine", Permission.DENY),
            commands=COMMANDS,
        )
        allow = await role_rules.add_rule(
            ctx, role_uuid=role.uuid, rule=NewRule("list*", Permission.ALLOW), commands=COMMANDS
        )
        role_uuid, rule_uuids = role.uuid, [deny.uuid, allow.uuid]
    await exchange(r1, r2)
    assert await _rules(r2, role_uuid) == [("deployVirtualMachine", "deny"), ("list*", "allow")]

    # Edited in region 2 (reordered, one rule flipped), the rules come back to region 1.
    async with as_admin(r2) as ctx:
        await role_rules.reorder_rules(ctx, role_uuid=role_uuid, order=rule_uuids[::-1])
        await role_rules.set_rule_permission(
            ctx, role_uuid=role_uuid, rule_uuid=rule_uuids[1], permission=Permission.DENY
        )
        root = ctx.caller.domain_uuid
    async with as_admin(r2) as ctx:
        account = await new_account(ctx, "restricted", root, "restricted")
    await exchange(r2, r1)
    assert await _rules(r1, role_uuid) == [("list*", "deny"), ("deployVirtualMachine", "deny")]
    assert await dump(r1) == await dump(r2)
    assert account.account.role.type is RoleType.USER


async def test_a_deleted_role_takes_its_rules_everywhere_even_one_added_meanwhile(
    regions: list[Runtime],
) -> None:
    r1, r2 = regions
    async with as_admin(r1) as ctx:
        role = await _user_role(ctx, "Short-lived")
        await role_rules.add_rule(
            ctx, role_uuid=role.uuid, rule=NewRule("list*", Permission.ALLOW), commands=COMMANDS
        )
        role_uuid = role.uuid
    await exchange(r1, r2)
    # Region 2 adds a rule while region 1 deletes the role; neither has seen the other.
    async with as_admin(r2) as ctx:
        await role_rules.add_rule(
            ctx,
            role_uuid=role_uuid,
            rule=NewRule("deployVirtualMachine", Permission.DENY),
            commands=COMMANDS,
        )
    async with as_admin(r1) as ctx:
        await roles.delete_role(ctx, role_uuid=role_uuid)
    await exchange(r1, r2)
    await exchange(r2, r1)
    first, second = await dump(r1), await dump(r2)
    assert first == second
    assert role_uuid not in first["role"]
    assert first["role_permission"] == {}


async def test_a_role_deleted_while_another_region_grants_it_takes_the_account(
    regions: list[Runtime],
) -> None:
    r1, r2 = regions
    async with as_admin(r1) as ctx:
        role = await _user_role(ctx, "Raced")
        role_uuid = role.uuid
    await exchange(r1, r2)
    async with as_admin(r2) as ctx:
        root = ctx.caller.domain_uuid
        created = await create_account(
            ctx,
            user=new_user("granted"),
            account_type=None,
            role_uuid=role_uuid,
            name="granted",
            domain_uuid=root,
            network_domain=None,
            account_uuid=None,
            details={},
        )
        account_uuid = created.account.uuid
    async with as_admin(r1) as ctx:
        await roles.delete_role(ctx, role_uuid=role_uuid)
    await exchange(r1, r2)
    await exchange(r2, r1)
    first, second = await dump(r1), await dump(r2)
    assert first == second
    assert role_uuid not in first["role"]
    assert account_uuid not in first["account"]
