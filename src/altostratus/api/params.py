"""Command parameters: typed pydantic models, read from CloudStack's wire conventions.

A command's parameter model is its one declaration: it parses the request, its
validation errors become 431 answers naming the parameter, and ``listApis`` describes
it. Wire conventions handled here: case-insensitive names, ``None``/empty as absent,
comma-joined lists and ``name[i].key=value`` maps.
"""

from __future__ import annotations

import re
import types
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Any, Literal, Self, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic import model_validator as _model_validator
from pydantic.fields import FieldInfo

from altostratus.core.context import ServiceContext
from altostratus.core.paging import PageRequest
from altostratus.errors import InvalidParameter, MissingParameter, invalid
from altostratus.timeutil import parse_timestamp

__all__ = [
    "ApiType",
    "CommaList",
    "DeleteParams",
    "EndTimestamp",
    "HttpEndpoint",
    "Integer",
    "ListParams",
    "MapParam",
    "NothingMatches",
    "Params",
    "Strict",
    "Timestamp",
    "Timezone",
    "Uuid",
    "UuidList",
    "api_type_of",
    "collect_params",
    "page_request",
    "parse_params",
    "plain_type",
    "string_values",
]

#: Parameters the transport consumes; never handed to a command.
TRANSPORT_PARAMS = frozenset(
    {"command", "response", "apikey", "signature", "signatureversion", "expires", "sessionkey", "_"}
)
P = TypeVar("P", bound="Params")
_MAP_KEY = re.compile(r"^([a-z0-9_]+)\[(\d+)\]\.([a-z0-9_]+)$")


@dataclass(frozen=True)
class ApiType:
    """The type name ``listApis`` shows for a parameter (``uuid``, ``map``, …)."""

    name: str


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("not a valid UUID") from None


def _split_commas(value: Any) -> Any:
    return (
        [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, str)
        else value
    )


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    return value


def _timestamp(value: Any) -> Any:
    return parse_timestamp(value) if isinstance(value, str) else value


def _end_timestamp(value: Any) -> Any:
    """An end bound covers its whole last unit: ``2026-11-21`` the day, ``…T10:00:00`` the second.

    CloudStack reads a date-only ``enddate`` as 23:59:59 of that day, and shows times in
    whole seconds: an event shown as created at 10:00:00 must match ``enddate=…10:00:00``.
    """
    moment = _timestamp(value)
    if not isinstance(value, str):
        return moment
    if len(value.strip()) == len("2026-11-21"):
        return moment + timedelta(days=1, microseconds=-1)
    if "." not in value:
        return moment + timedelta(seconds=1, microseconds=-1)
    return moment


Uuid = Annotated[str, ApiType("uuid"), AfterValidator(_canonical_uuid)]
#: A moment in the forms clients send (``2026-11-21``, ``…T10:00:00+0000``, ``…Z``), as UTC.
Timestamp = Annotated[datetime, ApiType("date"), BeforeValidator(_timestamp)]
#: The inclusive end of a date range (``enddate``): the end of the day or second given.
EndTimestamp = Annotated[datetime, ApiType("date"), BeforeValidator(_end_timestamp)]
CommaList = Annotated[list[str], ApiType("list"), BeforeValidator(_split_commas)]
UuidList = Annotated[list[Uuid], ApiType("list"), BeforeValidator(_split_commas)]
#: An http(s) URL, kept exactly as given (pydantic's HttpUrl would rewrite it).
HttpEndpoint = Annotated[str, ApiType("string"), AfterValidator(_http_url)]
#: ``details[0].key=…`` arrives as a list of small dicts, in index order.
MapParam = Annotated[list[dict[str, str]], ApiType("map")]
#: CloudStack's ``INTEGER`` parameters (32 bits); a plain ``int`` is its ``LONG`` (64 bits).
Integer = Annotated[int, ApiType("integer")]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a known time zone (use a name like Europe/Berlin or UTC)") from None
    return value


#: An IANA time zone name, as CloudStack's UI offers them.
Timezone = Annotated[str, ApiType("string"), AfterValidator(_timezone)]

#: The width in bits of each integer type ``listApis`` shows, as Java has them.
_INTEGER_BITS = {"short": 16, "integer": 32, "long": 64}


class Params(BaseModel):
    """Base of every command's parameter model; field names are CloudStack's lowercase names."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_max_length=65535)

    @field_validator("*", mode="after")
    @classmethod
    def _within_integer_range(cls, value: Any, info: ValidationInfo) -> Any:
        """Every integer parameter holds what its Java type holds, as CloudStack parses it
        (``Long.valueOf``), so a value past it is a 431, not an overflow in the database."""
        if not isinstance(value, int) or isinstance(value, bool) or info.field_name is None:
            return value
        kind = api_type_of(cls.model_fields[info.field_name])
        bits = _INTEGER_BITS.get(kind, 64)
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        if not low <= value <= high:
            raise ValueError(f"not a valid {kind}: it must be from {low} to {high}")
        return value


class DeleteParams(Params):
    """The one parameter of a ``delete*`` command that takes nothing else."""

    id: Uuid = Field(description="The id of the object to delete")


class ListParams(Params):
    """What every ``list*`` command accepts."""

    keyword: str | None = Field(None, description="List by keyword")
    page: Integer | None = Field(None, ge=1, description="Page number (1-based); needs pagesize")
    pagesize: Integer | None = Field(
        None, ge=-1, description="Items per page; -1 lists all; needs page"
    )
    listall: bool = Field(
        False, description="Admins: list resources of every account they may see, not own only"
    )

    @_model_validator(mode="after")
    def _page_and_pagesize_together(self) -> Self:
        if (self.page is None) != (self.pagesize is None) and self.pagesize != -1:
            missing = "pagesize" if self.pagesize is None else "page"
            raise ValueError(f'"{missing}" parameter is required when paging')
        return self


def plain_type(annotation: Any) -> Any:
    """Strip ``Optional`` so ``str | None`` reads as ``str``."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def api_type_of(field: FieldInfo) -> str:
    for meta in field.metadata:
        if isinstance(meta, ApiType):
            return meta.name
    plain = plain_type(field.annotation)
    if get_origin(plain) is Annotated:
        for meta in get_args(plain)[1:]:
            if isinstance(meta, ApiType):
                return meta.name
        plain = get_args(plain)[0]
    origin = get_origin(plain) or plain
    names: dict[Any, str] = {
        bool: "boolean",
        int: "long",
        str: "string",
        datetime: "date",
        list: "list",
        dict: "map",
    }
    return names.get(origin, "string")


def collect_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Fold raw query/form pairs into lowercase names, with ``x[i].k`` maps as lists."""
    flat: dict[str, Any] = {}
    maps: dict[str, dict[int, dict[str, str]]] = {}
    for raw_name, value in pairs:
        name = raw_name.lower()
        match = _MAP_KEY.match(name)
        if match:
            field, index, key = match.group(1), int(match.group(2)), match.group(3)
            maps.setdefault(field, {}).setdefault(index, {})[key] = value
        else:
            flat[name] = value
    for field, entries in maps.items():
        flat[field] = [entries[index] for index in sorted(entries)]
    return flat


def _absent(value: Any, field: FieldInfo) -> bool:
    """Empty values, and ``None`` where a string is not expected, count as not given."""
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    return value.lower() == "none" and api_type_of(field) != "string"


@dataclass(frozen=True)
class Strict:
    """Metadata of a list filter whose bad values stay a 431 (not CloudStack's: it has no
    such filter to be lenient about), e.g. ``Annotated[ServerState, Strict()]``."""


class NothingMatches(Exception):
    """A listing's filter holds a value no object can have: the answer is an empty list."""


#: List parameters whose values must exist (CloudStack looks the domain up first).
_SCOPING = frozenset({"domainid"})
#: Filters CloudStack compares as plain strings, so an unknown value matches nothing.
_LENIENT_CHOICES = frozenset({"hypervisor", "state"})


def _strict(field: FieldInfo) -> bool:
    plain = plain_type(field.annotation)
    metadata = [*field.metadata, *(get_args(plain)[1:] if get_origin(plain) is Annotated else ())]
    return any(isinstance(meta, Strict) for meta in metadata)


def _is_choice(annotation: Any) -> bool:
    """An enumeration (``Hypervisor``, ``VmState``, …), under ``Optional`` or ``Annotated``."""
    plain = plain_type(annotation)
    if get_origin(plain) is Annotated:
        plain = get_args(plain)[0]
    return get_origin(plain) is Literal or (isinstance(plain, type) and issubclass(plain, Enum))


def _harmless(model: type[BaseModel], error: Any, given: Mapping[str, Any]) -> bool:
    """An invalid value of a list filter that only narrows the listing, as CloudStack
    treats it: an internal integer id where a UUID goes (``id=-1``), or an unknown
    ``hypervisor`` or ``state`` (``hypervisor=Docker``, ``state=Sleeping``)."""
    if not error["loc"]:
        return False
    name = str(error["loc"][0])
    field = model.model_fields.get(name)
    if field is None or field.is_required() or name in _SCOPING:
        return False
    if name in ListParams.model_fields or _strict(field):
        return False
    if api_type_of(field) == "uuid":
        return bool(_INTEGER.match(str(given.get(name, ""))))
    return name in _LENIENT_CHOICES and _is_choice(field.annotation)


_INTEGER = re.compile(r"^-?\d+$")
#: How much of a refused value a 431 repeats.
_SHOWN_MAX = 200
#: The ASCII control characters CloudStack refuses in every parameter value (tab, line
#: feed and carriage return pass): they break XML answers, logs and headers.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _refuse_control_characters(raw: Mapping[str, Any]) -> None:
    for name, value in raw.items():
        if isinstance(value, str):
            texts = [value]
        elif isinstance(value, list):
            texts = [text for entry in value for text in entry.values()]
        else:
            continue
        if any(_CONTROL.search(text) for text in texts):
            raise InvalidParameter(
                "Received value containing illegal ASCII non-printable characters for "
                f"parameter {_CONTROL.sub('?', name)}"
            )


def parse_params(command: str, model: type[P], raw: Mapping[str, Any]) -> P:
    """Validate ``raw`` against ``model``; any problem is a 431 naming the parameter.

    Every value, declared or not, is first refused if it holds an ASCII control
    character, as CloudStack does. A listing whose only problems are harmless filter
    values (``_harmless``) raises ``NothingMatches`` instead: CloudStack answers those
    with an empty list, while a bad value of a parameter that changes something stays a
    431.
    """
    _refuse_control_characters(raw)
    given = {
        name: raw[name]
        for name, field in model.model_fields.items()
        if name in raw and not _absent(raw[name], field)
    }
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if issubclass(model, ListParams) and all(_harmless(model, e, given) for e in errors):
            raise NothingMatches(command) from None
        raise _to_cloud_error(command, exc, given) from None


def _to_cloud_error(
    command: str, exc: ValidationError, given: Mapping[str, Any]
) -> InvalidParameter:
    error = exc.errors(include_url=False)[0]
    if not error["loc"]:
        text = str(error["msg"]).removeprefix("Value error, ")
        return InvalidParameter(f"Unable to execute API command {command.lower()}: {text}")
    name = str(error["loc"][0])
    if error["type"] == "missing":
        return MissingParameter(command, name)
    reason = str(error["msg"]).removeprefix("Value error, ")
    shown = str(given.get(name))
    if len(shown) > _SHOWN_MAX:
        shown = f"{shown[:_SHOWN_MAX]}... ({len(shown)} characters)"
    invalid_value = invalid(name, reason, value=shown)
    return InvalidParameter(
        f"Unable to execute API command {command.lower()} due to invalid value. "
        f"{invalid_value.text}"
    )


def page_request(ctx: ServiceContext, params: ListParams) -> PageRequest:
    """The page a list command asked for, with the region's default page size."""
    return PageRequest.of(params.page, params.pagesize, ctx.deps.settings.default_page_size)


def string_values(params: Mapping[str, Any]) -> dict[str, str]:
    """The parameters sent as plain strings: what a signature or session check reads
    (maps and lists folded by ``collect_params`` are no part of it)."""
    return {key: value for key, value in params.items() if isinstance(value, str)}
