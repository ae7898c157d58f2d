"""Resource tags: ``createTags``, ``deleteTags`` and ``listTags``.

``createTags`` and ``deleteTags`` are asynchronous in CloudStack, so clients poll a
job; they only write rows, so the change commits with the job row in the request and
the job is already finished when polled.
"""

from __future__ import annotations

from pydantic import Field

from altostratus.api.declarations import ANYONE, SUCCESS, CommandSet
from altostratus.api.ownership import OwnedListParams
from altostratus.api.params import MapParam, Params, Uuid, UuidList, page_request
from altostratus.api.results import ListResult, ResponseObject, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import ResourceTag
from altostratus.errors import invalid
from altostratus.services.shared import tags
from altostratus.services.shared.tags import TagFilter

__all__ = [
    "CreateTagsParams",
    "DeleteTagsParams",
    "ListTagsParams",
    "TagResponse",
    "TagTarget",
    "commands",
    "create_tags",
    "delete_tags",
    "list_tags",
    "tag_view",
]

commands = CommandSet()

_TYPES = ", ".join(sorted(tags.RESOURCE_TYPES))
_MAX_TEXT = 255


class TagResponse(ResponseObject):
    key: str
    value: str
    resourcetype: str
    resourceid: str
    account: str
    domainid: str
    domain: str
    customer: str | None = None


def tag_view(tag: ResourceTag) -> TagResponse:
    return TagResponse(
        key=tag.key,
        value=tag.value,
        resourcetype=tag.resource_type,
        resourceid=tag.resource_uuid,
        account=tag.account.name,
        domainid=tag.domain.uuid,
        domain=tag.domain.name,
        customer=tag.customer,
    )


def _text(entry: dict[str, str], field: str, index: int) -> str:
    text = entry.get(field, "")
    if not text or len(text) > _MAX_TEXT:
        raise invalid(f"tags[{index}].{field}", f"required, at most {_MAX_TEXT} characters")
    return text


class TagTarget(Params):
    resourceids: UuidList = Field(min_length=1, description="The resources, all of one type")
    resourcetype: str = Field(max_length=64, description=f"Their type: one of {_TYPES}")


class CreateTagsParams(TagTarget):
    tags: MapParam = Field(min_length=1, description="The tags: tags[0].key=…&tags[0].value=…")
    customer: str | None = Field(
        None, max_length=255, description="Free text naming who the tags are for"
    )

    def mapping(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for index, entry in enumerate(self.tags):
            key = _text(entry, "key", index)
            if key in found:
                raise invalid("tags", f"the key {key} is given twice")
            found[key] = _text(entry, "value", index)
        return found


@commands.command(
    "createTags",
    CreateTagsParams,
    description="Adds tags to resources",
    allowed=ANYONE,
    response=SUCCESS,
    is_async=True,
    related=("listTags",),
)
async def create_tags(ctx: ServiceContext, p: CreateTagsParams) -> Success:
    await tags.create_tags(
        ctx,
        resource_type=p.resourcetype,
        resource_uuids=p.resourceids,
        tags=p.mapping(),
        customer=p.customer,
    )
    return Success()


class DeleteTagsParams(TagTarget):
    tags: MapParam | None = Field(
        None,
        description="Delete only these: tags[0].key (and tags[0].value to match it too); "
        "default: every tag of the resources",
    )

    def filters(self) -> list[TagFilter]:
        return [
            TagFilter(_text(entry, "key", index), entry.get("value") or None)
            for index, entry in enumerate(self.tags or [])
        ]


@commands.command(
    "deleteTags",
    DeleteTagsParams,
    description="Deletes tags of resources",
    allowed=ANYONE,
    response=SUCCESS,
    is_async=True,
)
async def delete_tags(ctx: ServiceContext, p: DeleteTagsParams) -> Success:
    await tags.delete_tags(
        ctx, resource_type=p.resourcetype, resource_uuids=p.resourceids, tags=p.filters()
    )
    return Success()


class ListTagsParams(OwnedListParams):
    resourceid: Uuid | None = Field(None, description="List the tags of this resource")
    resourcetype: str | None = Field(
        None, max_length=64, description=f"List tags of resources of this type: {_TYPES}"
    )
    key: str | None = Field(None, max_length=255, description="List tags with this key")
    value: str | None = Field(None, max_length=255, description="List tags with this value")
    customer: str | None = Field(None, max_length=255, description="List tags of this customer")


@commands.command(
    "listTags",
    ListTagsParams,
    description="Lists resource tags",
    allowed=ANYONE,
    response=("tag", TagResponse),
    writes=False,
)
async def list_tags(ctx: ServiceContext, p: ListTagsParams) -> ListResult:
    page = await tags.list_tags(
        ctx,
        resource_type=p.resourcetype,
        resource_uuid=p.resourceid,
        key=p.key,
        value=p.value,
        customer=p.customer,
        keyword=p.keyword,
        scope=p.scope(),
        page=page_request(ctx, p),
    )
    return ListResult("tag", [tag_view(tag) for tag in page.items], page.total)
