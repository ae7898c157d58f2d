"""The identities every API test starts with, created once in the template database.

    ROOT                  admin (root admin, from bootstrap)
    ├── ROOT/d1           d1admin (domain admin), alice (user)
    │   └── ROOT/d1/sub   carol (user)
    └── ROOT/d2           bob (user)

They are written through the models, not the API, so the tests of the identity
commands do not depend on the commands they test.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from altostratus.db.models import Account, AccountType, Domain, Role, User
from altostratus.runtime import Runtime
from altostratus.security.apikeys import generate_key_pair

__all__ = ["PASSWORD", "Identity", "seed_world"]

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Identity:
    username: str
    user_id: str
    account: str
    account_id: str
    domain_path: str
    domain_id: str
    api_key: str
    secret_key: str
    password: str = PASSWORD


async def _domain(runtime: Runtime, session: object, name: str, parent: Domain) -> Domain:
    domain = Domain(
        name=name, parent_id=parent.id, path=f"{parent.path}/{name}", level=parent.level + 1
    )
    session.add(domain)  # type: ignore[attr-defined]
    await session.flush()  # type: ignore[attr-defined]
    return domain


async def seed_world(runtime: Runtime) -> dict[str, Identity]:
    identities: dict[str, Identity] = {}
    async with runtime.db.transaction() as session:
        roles = {role.type: role for role in await session.scalars(select(Role))}
        root = await session.scalar(select(Domain).where(Domain.path == "ROOT"))
        assert root is not None
        d1 = await _domain(runtime, session, "d1", root)
        d2 = await _domain(runtime, session, "d2", root)
        sub = await _domain(runtime, session, "sub", d1)
        password_hash = await runtime.deps.passwords.hash(PASSWORD)
        for username, kind, domain in (
            ("d1admin", AccountType.DOMAIN_ADMIN, d1),
            ("alice", AccountType.USER, d1),
            ("carol", AccountType.USER, sub),
            ("bob", AccountType.USER, d2),
        ):
            account = Account(
                name=username, domain_id=domain.id, type=kind, role_id=roles[kind.role_type].id
            )
            session.add(account)
            await session.flush()
            pair = generate_key_pair()
            user = User(
                username=username,
                account_id=account.id,
                domain_id=domain.id,
                password_hash=password_hash,
                firstname=username.title(),
                lastname="Test",
                email=f"{username}@example.org",
                api_key=pair.api_key,
                secret_key_encrypted=runtime.deps.keyring.encrypt(pair.secret_key),
            )
            session.add(user)
            await session.flush()
            identities[username] = Identity(
                username=username,
                user_id=user.uuid,
                account=account.name,
                account_id=account.uuid,
                domain_path=domain.path,
                domain_id=domain.uuid,
                api_key=pair.api_key,
                secret_key=pair.secret_key,
            )
        admin_user = await session.scalar(select(User).where(User.username == "admin"))
        assert admin_user is not None
        assert admin_user.api_key is not None
        assert admin_user.secret_key_encrypted is not None
        identities["admin"] = Identity(
            username="admin",
            user_id=admin_user.uuid,
            account="admin",
            account_id=admin_user.account.uuid,
            domain_path="ROOT",
            domain_id=root.uuid,
            api_key=admin_user.api_key,
            secret_key=runtime.deps.keyring.decrypt(admin_user.secret_key_encrypted),
            password=runtime.new_admin.password if runtime.new_admin else PASSWORD,
        )
    return identities
