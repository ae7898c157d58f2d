"""``listApis`` and ``listCapabilities``: what clients discover, generated from declarations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, get_args, get_origin

from pydantic import Field
from pydantic.fields import FieldInfo

from altostratus import CLOUDSTACK_API_VERSION, __version__
from altostratus.api.declarations import ANYONE, Command, CommandSet
from altostratus.api.params import ApiType, Params, api_type_of, plain_type
from altostratus.api.results import ListResult, ResponseObject, Single
from altostratus.core.context import ServiceContext
from altostratus.errors import InvalidParameter
from altostratus.services.identity import role_rules

__all__ = [
    "Api",
    "ApiParam",
    "ApiResponseField",
    "CapabilitiesParams",
    "Capability",
    "ListApisParams",
    "command_set",
    "describe",
    "response_fields",
]

_DEFAULT_LENGTH = 255


class ApiParam(ResponseObject):
    name: str
    description: str
    type: str
    length: int
    required: bool
    since: str | None = None


class ApiResponseField(ResponseObject):
    """One field of an answer; a list or object of response objects has its ``response``."""

    name: str
    description: str
    type: str
    response: list[ApiResponseField] | None = None


class Api(ResponseObject):
    name: str
    description: str
    isasync: bool
    related: str
    since: str | None = None
    params: list[ApiParam]
    response: list[ApiResponseField]


#: Descriptions of the fields most objects have, where the model gives none.
_COMMON_FIELDS = {
    "id": "the id of the {}",
    "name": "the name of the {}",
    "displaytext": "the display text of the {}",
    "description": "the description of the {}",
    "state": "the state of the {}",
    "created": "the date the {} was created",
    "account": "the account owning the {}",
    "accountid": "the id of the account owning the {}",
    "domainid": "the id of the domain of the {}",
    "domain": "the name of the domain of the {}",
    "zoneid": "the id of the zone of the {}",
    "zonename": "the name of the zone of the {}",
    "tags": "the tags of the {}",
}
#: String fields holding a moment (``format_timestamp``), shown as CloudStack's ``date``.
_DATE_FIELDS = frozenset({"created", "removed", "completed", "lastupdated", "lastpinged"})
_JOB_ID = ApiResponseField(
    name="jobid",
    description="the id of the asynchronous job; queryAsyncJobResult answers the fields "
    "above under jobresult",
    type="string",
)
_JOB_STATUS = ApiResponseField(
    name="jobstatus",
    description="in a job's result: the status of the job, 0 (pending) as it was built",
    type="integer",
)


def _element_model(annotation: Any) -> tuple[str, type[ResponseObject]] | None:
    """``("object", M)`` for a ``M`` field, ``("list", M)`` for ``list[M]`` (``None`` aside)."""
    annotation = plain_type(annotation)
    if isinstance(annotation, type) and issubclass(annotation, ResponseObject):
        return "object", annotation
    if get_origin(annotation) in (list, tuple, set, frozenset):
        (element, *_rest) = get_args(annotation) or (None,)
        if isinstance(element, type) and issubclass(element, ResponseObject):
            return "list", element
    return None


def _field_type(name: str, field: FieldInfo) -> str:
    kind = api_type_of(field)
    if kind == "long" and not any(isinstance(meta, ApiType) for meta in field.metadata):
        return "integer"  # CloudStack's Integer; a field says long with ApiType("long")
    if kind == "string" and name in _DATE_FIELDS:
        return "date"
    if kind == "string" and field.annotation is not None:
        plain = get_args(field.annotation) or (field.annotation,)
        if float in plain:
            return "double"
    return kind


def _common_job_field(model: type[ResponseObject], name: str) -> bool:
    """``jobid``/``jobstatus`` as every response object has them, not declared by ``model``
    itself (``queryAsyncJobResult``'s answer declares its own)."""
    return name in ResponseObject.model_fields and not any(
        name in vars(cls).get("__annotations__", {})
        for cls in model.__mro__
        if cls is not ResponseObject and issubclass(cls, ResponseObject)
    )


def response_fields(
    model: type[ResponseObject], entity: str, outer: frozenset[type[ResponseObject]] = frozenset()
) -> list[ApiResponseField]:
    """The fields of ``model`` as listApis describes them; ``entity`` names the object.

    A model nested in itself (listApis' own ``response``) is described once, not again inside.
    """
    outer = outer | {model}
    described = []
    for name, field in model.model_fields.items():
        if _common_job_field(model, name):
            continue  # only in job results (``_answer_fields``)
        common = _COMMON_FIELDS.get(name)
        description = field.description or (common.format(entity) if common else "")
        nested = _element_model(field.annotation)
        if nested is None:
            described.append(
                ApiResponseField(name=name, description=description, type=_field_type(name, field))
            )
            continue
        kind, element = nested
        described.append(
            ApiResponseField(
                name=name,
                description=description,
                type=kind,
                response=None if element in outer else response_fields(element, name, outer),
            )
        )
    return described


def _answer_fields(command: Command[Any]) -> list[ApiResponseField]:
    """What the answer holds: an asynchronous command's job result, and the job's id and
    status (inside the result's object, as CloudStack answers them)."""
    fields = response_fields(command.response_model, command.response_name)
    if command.is_async:
        fields += [_JOB_ID, _JOB_STATUS]
    return fields


def describe(command: Command[Any]) -> Api:
    params = []
    for name, field in command.params.model_fields.items():
        length = next(
            (
                getattr(m, "max_length", None)
                for m in field.metadata
                if getattr(m, "max_length", None)
            ),
            None,
        )
        params.append(
            ApiParam(
                name=name,
                description=field.description or "",
                type=api_type_of(field),
                length=length or _DEFAULT_LENGTH,
                required=field.is_required(),
            )
        )
    return Api(
        name=command.name,
        description=command.description,
        isasync=command.is_async,
        related=",".join(command.related),
        params=params,
        response=_answer_fields(command),
    )


class ListApisParams(Params):
    name: str | None = Field(None, description="Describe only the API of this name")


class CapabilitiesParams(Params):
    pass


class Capability(ResponseObject):
    cloudstackversion: str
    altostratusversion: str
    apilimitinterval: int
    apilimitmax: int
    securitygroupsenabled: bool
    userpublictemplateenabled: bool
    allowusercreateprojects: bool
    allowuserviewdestroyedvm: bool
    allowuserexpungerecovervm: bool
    customdiskofferingminsize: int
    customdiskofferingmaxsize: int
    regionsecondaryenabled: bool
    kvmsnapshotenabled: bool
    supportELB: str
    projectinviterequired: bool
    dynamicrolesenabled: bool


def command_set(registry: Iterable[Command[Any]]) -> CommandSet:
    """The discovery commands of ``registry`` (they describe the registry they join)."""

    commands = CommandSet()

    @commands.command(
        "listApis",
        ListApisParams,
        description="Lists the APIs the caller may use, with their parameters",
        allowed=ANYONE,
        response=("api", Api),
        writes=False,
    )
    async def list_apis(ctx: ServiceContext, p: ListApisParams) -> ListResult:
        role = ctx.caller.role_type
        rules = await role_rules.rules_of(ctx.session, ctx.caller.role_id)
        visible = [c for c in registry if role in c.allowed and not rules.denies(c.name)]
        if p.name is not None:
            visible = [c for c in visible if c.name.lower() == p.name.lower()]
            if not visible:
                raise InvalidParameter(f"API {p.name} does not exist or is not available")
        return ListResult("api", [describe(c) for c in visible], len(visible))

    @commands.command(
        "listCapabilities",
        CapabilitiesParams,
        description="Lists the capabilities of the cloud",
        allowed=ANYONE,
        response=("capability", Capability),
        writes=False,
    )
    async def list_capabilities(ctx: ServiceContext, _p: CapabilitiesParams) -> Single:
        throttling = ctx.deps.settings
        return Single(
            "capability",
            Capability(
                cloudstackversion=CLOUDSTACK_API_VERSION,
                altostratusversion=__version__,
                # CloudStack shows the limit only when throttling is on; 0: no limit.
                apilimitinterval=ctx.deps.settings.api_throttling_interval,
                apilimitmax=throttling.api_throttling_max
                if throttling.api_throttling_enabled
                else 0,
                securitygroupsenabled=False,
                userpublictemplateenabled=True,
                allowusercreateprojects=False,
                allowuserviewdestroyedvm=True,
                allowuserexpungerecovervm=False,
                customdiskofferingminsize=1,
                customdiskofferingmaxsize=1024,
                regionsecondaryenabled=False,
                kvmsnapshotenabled=True,
                supportELB="false",
                projectinviterequired=False,
                dynamicrolesenabled=True,
            ),
        )

    return commands
