"""The authorisation matrix's cells, derived from the command declarations.

Every command of the registry gets a cell per role it is *not* allowed to (refused, 531)
and, for the two limited roles (the domain admin of ``d1`` and the user ``alice``), a
pair of cells per object parameter: against bob's object in ``d2`` (refused, nothing
changed) and against their own (not refused for permission). An object parameter is a
UUID parameter whose name says what it names (``id``: the command's own noun;
``virtualmachineid``: a VM, …); :func:`kind_of` maps it through the tables below, and a
parameter it cannot map is a cell of its own that fails saying what to add.
Used by ``tests/api/test_authorisation_matrix.py``; ``docs/security.md`` explains it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from altostratus.api.declarations import Command
from altostratus.api.params import api_type_of
from altostratus.api.registry import Registry
from altostratus.db.models import RoleType

__all__ = [
    "ANSWERS",
    "CALLERS",
    "CONSUMING_VERBS",
    "FRESH",
    "IDENTITY_NOUNS",
    "LIST_LOOKUPS",
    "NO_OBJECTS",
    "ROLES",
    "SCOPES",
    "SHARED",
    "TENANT",
    "Cell",
    "cells",
    "kind_of",
    "noun",
    "uuid_params",
]

#: The three roles, by the seeded identity that has each (``tests/support/world.py``).
ROLES: dict[str, RoleType] = {
    "admin": RoleType.ADMIN,
    "d1admin": RoleType.DOMAIN_ADMIN,
    "alice": RoleType.USER,
}
#: The roles whose reach is limited: they are tried against bob's objects.
CALLERS = ("d1admin", "alice")

#: Kinds of objects that belong to an account (or, for ``domain``, are a domain): the
#: matrix has one of each for bob (in d2) and for each caller, made in the world.
TENANT = frozenset(
    {
        "virtualmachine",
        "volume",
        "snapshot",
        "snapshotpolicy",
        "vmsnapshot",
        "template",
        "iso",
        "securitygroup",
        "ingressrule",
        "egressrule",
        "affinitygroup",
        "instancegroup",
        "ipaddress",
        "project",
        "asyncjob",
        "event",
        "nic",
        "sshkeypair",
        "user",
        "account",
        "domain",
        "webhook",
        "webhookdelivery",
    }
)
#: Kinds every caller may name (the region's inventory and catalogue): a valid value is
#: filled in where required, and there is no cell (their own commands are root admin's).
SHARED = frozenset(
    {
        "zone",
        "pod",
        "cluster",
        "host",
        "serviceoffering",
        "diskoffering",
        "networkoffering",
        "network",
        "ostype",
        "oscategory",
        "role",
    }
)
#: What a parameter's stem (its name without ``id``/``ids``) or a command's noun names,
#: where it is not the kind's own name.
ALIASES = {
    "associatednetwork": "network",
    "parentdomain": "domain",
    "group": "instancegroup",
    "job": "asyncjob",
    "publicipaddress": "ipaddress",
    "userkeys": "user",
    "virtualmachineuserdata": "virtualmachine",
    "securitygroupingress": "ingressrule",
    "snapshotpolicies": "snapshotpolicy",
    "securitygroupegress": "egressrule",
    "resource": "virtualmachine",  # the tag commands' resourceids: the matrix tags VMs
    "usage": "virtualmachine",  # listUsageRecords' usageid (with type): the matrix's VMs'
}
#: Parameters that carry a UUID the caller chooses for the object it creates (CloudStack's
#: ``accountid``/``userid``/``domainid`` of the create commands): not an object to reach.
FRESH = frozenset(
    {
        ("createAccount", "accountid"),
        ("createAccount", "userid"),
        ("createUser", "userid"),
        ("createDomain", "domainid"),
    }
)
#: Object parameters of listings of objects nothing here makes (CloudStack's forwarding
#: rules: the listings exist for clients, and always answer an empty list).
NO_OBJECTS = frozenset({("listIpForwardingRules", "id"), ("listPortForwardingRules", "id")})
#: Commands that use up the object they act on: their "own" cell gets an object of its own.
CONSUMING_VERBS = (
    "delete",
    "destroy",
    "expunge",
    "disassociate",
    "revoke",
    "recover",
    "disable",
    "lock",
    "revert",
)

#: Parameters of a listing that say whose objects to list: an unknown one is refused
#: (431), where an object filter (``id``, ``virtualmachineid``) just matches nothing.
SCOPES = frozenset({"projectid", "domainid", "accountid"})
#: Optional parameters of listings that look their object up rather than filter by it.
LIST_LOOKUPS = {
    ("listDomainChildren", "id"): "lists that domain's children",
    ("listIpForwardingRules", "ipaddressid"): "the rules of that address",
    ("listPortForwardingRules", "ipaddressid"): "the rules of that address",
    ("listServiceOfferings", "virtualmachineid"): "the offerings that VM may change to",
    ("listWebhookDeliveries", "webhookid"): "CloudStack looks the webhook up, then lists",
    ("listSnapshotPolicies", "volumeid"): "the policies of that volume: looked up first",
}
#: The identity commands check a ``domainid`` without ``account`` as where to act
#: (services/shared/access.py): one the caller may not work in is 531. With ``account``,
#: the account is looked up first: one the caller cannot see is 431.
IDENTITY_NOUNS = frozenset({"account", "user", "domain"})
#: Cells whose answer the rule above does not give, by (command, parameter, role or "
#: for both): the answer and why.
ANSWERS: dict[tuple[str, str, str], tuple[int, str]] = {
    ("createDomain", "parentdomainid", ""): (531, "the parent is where to act (access.py)"),
    ("createAccount", "domainid", ""): (531, "its account parameter is the new name"),
    ("listAccounts", "domainid", "alice"): (200, "a user lists its own account, if there"),
    ("listUsers", "domainid", "alice"): (200, "a user lists its own user, if there"),
    ("listUsers", "domainid", "d1admin"): (531, "where to list: checked before the account"),
    ("listProjects", "domainid", "alice"): (200, "a user lists its own projects, if there"),
    ("listConfigurations", "domainid", ""): (431, "the domain whose values to show"),
    **{
        ("listUsageRecords", param, ""): (
            531,
            "CloudStack refuses another account's or domain's usage (PermissionDenied: "
            "a user lists its own account's only, a domain admin its subtree's)",
        )
        for param in ("accountid", "domainid")
    },
    **{
        (listing, param, ""): (200, "no forwarding rules exist here: always an empty list")
        for listing in ("listIpForwardingRules", "listPortForwardingRules")
        for param in ("domainid", "projectid")
    },
}

_VERB = re.compile(r"^[a-z]+")


def noun(command: Command[Any]) -> str:
    """What the command is about: its response's name, or its name without its verb."""
    if command.response_name != "success":
        return command.response_name.lower()
    return _VERB.sub("", command.name).lower()


def kind_of(command: Command[Any], param: str) -> str | None:
    """The kind of object ``param`` of ``command`` names, or ``None`` if unknown."""
    stem = noun(command) if param in ("id", "ids") else re.sub(r"ids?$", "", param)
    kind = ALIASES.get(stem, stem)
    return kind if kind in TENANT or kind in SHARED else None


def uuid_params(command: Command[Any]) -> list[str]:
    return [
        name
        for name, field in command.params.model_fields.items()
        if api_type_of(field) == "uuid" or (api_type_of(field) == "list" and name.endswith("ids"))
    ]


@dataclass(frozen=True)
class Cell:
    """One cell: ``command`` called by ``role``; ``param`` names the ``target``'s object.

    ``target``: ``"role"`` (the role is not allowed the command), ``"bob"`` (bob's object
    in d2), ``"own"`` (the caller's own), or ``"unmapped"`` (the matrix cannot tell what
    ``param`` names: the cell fails until a table says).
    """

    command: str
    role: str
    target: Literal["role", "bob", "own", "unmapped"]
    param: str = ""
    kind: str = ""

    @property
    def id(self) -> str:
        return "-".join(part for part in (self.command, self.role, self.target, self.param) if part)

    def expected(self, command: Command[Any]) -> int:
        """The answer to bob's object: 200 (a listing leaves it out), 431 (not found,
        naming it) or 531 (a domain the caller may not act in)."""
        for key in ((self.command, self.param, self.role), (self.command, self.param, "")):
            if key in ANSWERS:
                return ANSWERS[key][0]
        fields = command.params.model_fields
        if self.param == "domainid" and "account" not in fields:
            # A domain alone: where to act for the identity commands (access.py), a
            # filter for listings (nothing of d2 shows), else looked up.
            if noun(command) in IDENTITY_NOUNS:
                return 531
            return 200 if self.command.startswith("list") else 431
        looked_up = (
            self.param in SCOPES
            or fields[self.param].is_required()
            or (self.command, self.param) in LIST_LOOKUPS
        )
        return 200 if self.command.startswith("list") and not looked_up else 431

    @property
    def consumes(self) -> bool:
        verb = _VERB.match(self.command)
        return verb is not None and verb.group() in CONSUMING_VERBS


def _object_cells(command: Command[Any], role: str) -> list[Cell]:
    found: list[Cell] = []
    for param in uuid_params(command):
        if (command.name, param) in FRESH | NO_OBJECTS:
            continue
        kind = kind_of(command, param)
        if kind is None:
            found.append(Cell(command.name, role, "unmapped", param))
        elif kind in TENANT:
            found += [Cell(command.name, role, target, param, kind) for target in ("bob", "own")]
    return found


def cells(registry: Registry) -> list[Cell]:
    """Every cell of the matrix: a new command brings its own.

    The cells against bob's objects come before those against the callers' own, which
    change things (stop a VM, …): every refused call then meets the world as built.
    """
    found: list[Cell] = []
    for command in registry:
        if not command.requires_auth:
            continue  # login: the session tests' (it runs before any role is known)
        for role, role_type in ROLES.items():
            if role_type not in command.allowed:
                found.append(Cell(command.name, role, "role"))
            elif role in CALLERS:
                found += _object_cells(command, role)
    return sorted(found, key=lambda cell: cell.target == "own")
