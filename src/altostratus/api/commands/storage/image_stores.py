"""Image stores (root admins): where the region keeps templates' bytes.

``addImageStore`` takes CloudStack's ``provider`` and ``details`` map (both
``details[0].key=bucket&details[0].value=…`` and ``details[0].bucket=…`` are read);
``addImageStoreS3`` the S3 parameters by name. The answer is CloudStack's
``imagestore``; the details (keys) are never shown back.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from altostratus.api.declarations import ADMIN, SUCCESS, CommandSet
from altostratus.api.params import ListParams, MapParam, Params, Uuid, page_request
from altostratus.api.results import ListResult, ResponseObject, Single, Success
from altostratus.core.context import ServiceContext
from altostratus.db.models import ImageStore, ImageStoreProvider, Zone
from altostratus.services.images import stores
from altostratus.services.images.stores import StoreFilter, StoreSpec
from altostratus.services.shared.lookup import find_by_uuid

__all__ = [
    "AddImageStoreParams",
    "AddImageStoreS3Params",
    "DeleteImageStoreParams",
    "ImageStoreResponse",
    "ListImageStoresParams",
    "UpdateImageStoreParams",
    "add_image_store",
    "add_image_store_s3",
    "commands",
    "delete_image_store",
    "image_store_view",
    "list_image_stores",
    "update_image_store",
]

commands = CommandSet()

Name = Annotated[str, Field(min_length=1, max_length=255)]
Text = Annotated[str, Field(min_length=1, max_length=1024)]


class ImageStoreResponse(ResponseObject):
    id: str
    name: str
    url: str
    protocol: str
    providername: str
    scope: str = Field(description="ZONE or REGION")
    zoneid: str | None = None
    zonename: str | None = None
    readonly: bool
    created: str | None = None


def image_store_view(store: ImageStore) -> ImageStoreResponse:
    return ImageStoreResponse(
        id=store.uuid,
        name=store.name,
        url=store.url,
        protocol=store.protocol,
        providername=store.provider,
        scope="ZONE" if store.zone else "REGION",
        zoneid=store.zone.uuid if store.zone else None,
        zonename=store.zone.name if store.zone else None,
        readonly=store.read_only,
    )


def _details(entries: list[dict[str, Any]] | None) -> dict[str, str]:
    """One map from CloudStack's two spellings, keys in lower case."""
    found: dict[str, str] = {}
    for entry in entries or []:
        if set(entry) == {"key", "value"}:
            found[str(entry["key"]).lower()] = str(entry["value"])
        else:
            found.update({str(key).lower(): str(value) for key, value in entry.items()})
    return found


class AddImageStoreParams(Params):
    name: Name = Field(description="Name of the store")
    provider: ImageStoreProvider = Field(description="S3, or Local (a directory of the server)")
    url: Text | None = Field(None, description="Accepted for CloudStack; S3 stores use details")
    zoneid: Uuid | None = Field(None, description="The store's zone; absent: the whole region")
    details: MapParam | None = Field(
        None, description="S3: bucket, endpoint, accesskey, secretkey (details[0].key/value)"
    )


@commands.command(
    "addImageStore",
    AddImageStoreParams,
    description="Adds an image store (S3 or the local directory) to a zone or the region",
    allowed=ADMIN,
    response=("imagestore", ImageStoreResponse),
    related=("listImageStores",),
)
async def add_image_store(ctx: ServiceContext, p: AddImageStoreParams) -> Single:
    spec = StoreSpec(
        name=p.name,
        provider=p.provider,
        url=p.url if p.provider is not ImageStoreProvider.S3 else None,
        zone_uuid=p.zoneid,
        details=_details(p.details),
    )
    return Single("imagestore", image_store_view(await stores.add_image_store(ctx, spec)))


class AddImageStoreS3Params(Params):
    name: Name | None = Field(None, description="Name of the store; default: the bucket")
    accesskey: Text = Field(description="S3 access key")
    secretkey: Text = Field(description="S3 secret key")
    endpoint: Text = Field(description="S3 endpoint: host[:port] or an http(s) URL")
    bucket: Annotated[str, Field(min_length=3, max_length=63)] = Field(description="Bucket name")
    usehttps: bool | None = Field(None, description="HTTPS to a host[:port] endpoint (default)")
    signer: str | None = Field(None, max_length=64, description="Accepted; SigV4 is used")
    connectiontimeout: int | None = Field(None, ge=1, description="Connection timeout in ms")
    sockettimeout: int | None = Field(None, ge=1, description="Socket timeout in ms")
    maxerrorretry: int | None = Field(None, ge=0, le=20, description="Retries of a failed call")
    connectionttl: int | None = Field(None, description="Accepted for CloudStack")
    usetcpkeepalive: bool | None = Field(None, description="Accepted for CloudStack")
    zoneid: Uuid | None = Field(None, description="The store's zone; absent: the whole region")


@commands.command(
    "addImageStoreS3",
    AddImageStoreS3Params,
    description="Adds an S3-compatible image store",
    allowed=ADMIN,
    response=("imagestore", ImageStoreResponse),
    related=("listImageStores",),
)
async def add_image_store_s3(ctx: ServiceContext, p: AddImageStoreS3Params) -> Single:
    given = {
        "accesskey": p.accesskey,
        "secretkey": p.secretkey,
        "endpoint": p.endpoint,
        "bucket": p.bucket,
        "usehttps": None if p.usehttps is None else str(p.usehttps).lower(),
        "connectiontimeout": p.connectiontimeout,
        "sockettimeout": p.sockettimeout,
        "maxerrorretry": p.maxerrorretry,
    }
    spec = StoreSpec(
        name=p.name or p.bucket,
        provider=ImageStoreProvider.S3,
        zone_uuid=p.zoneid,
        details={key: str(value) for key, value in given.items() if value is not None},
    )
    return Single("imagestore", image_store_view(await stores.add_image_store(ctx, spec)))


class ListImageStoresParams(ListParams):
    id: Uuid | None = Field(None, description="List the store of this id")
    name: str | None = Field(None, max_length=255, description="List the store of this name")
    provider: str | None = Field(None, max_length=32, description="List the stores of a provider")
    protocol: str | None = Field(None, max_length=16, description="List the stores of a protocol")
    zoneid: Uuid | None = Field(None, description="List the stores serving this zone")
    readonly: bool | None = Field(None, description="List the read-only (or writable) stores")


@commands.command(
    "listImageStores",
    ListImageStoresParams,
    description="Lists image stores",
    allowed=ADMIN,
    response=("imagestore", ImageStoreResponse),
    writes=False,
)
async def list_image_stores(ctx: ServiceContext, p: ListImageStoresParams) -> ListResult:
    zone = await find_by_uuid(ctx, Zone, p.zoneid, "zoneid") if p.zoneid else None
    wanted = StoreFilter(
        uuid=p.id,
        name=p.name,
        provider=p.provider,
        zone=zone,
        protocol=p.protocol,
        read_only=p.readonly,
        keyword=p.keyword,
    )
    page = await stores.list_image_stores(ctx, wanted, page_request(ctx, p))
    return ListResult("imagestore", [image_store_view(s) for s in page.items], page.total)


class UpdateImageStoreParams(Params):
    id: Uuid = Field(description="The store to update")
    readonly: bool | None = Field(None, description="No new images go to a read-only store")
    name: Name | None = Field(None, description="New name")


@commands.command(
    "updateImageStore",
    UpdateImageStoreParams,
    description="Makes an image store read-only (or writable again), or renames it",
    allowed=ADMIN,
    response=("imagestore", ImageStoreResponse),
    related=("listImageStores",),
)
async def update_image_store(ctx: ServiceContext, p: UpdateImageStoreParams) -> Single:
    store = await stores.update_image_store(ctx, p.id, read_only=p.readonly, name=p.name)
    return Single("imagestore", image_store_view(store))


class DeleteImageStoreParams(Params):
    id: Uuid = Field(description="The store to delete")


@commands.command(
    "deleteImageStore",
    DeleteImageStoreParams,
    description="Deletes an image store that holds no template",
    allowed=ADMIN,
    response=SUCCESS,
)
async def delete_image_store(ctx: ServiceContext, p: DeleteImageStoreParams) -> Success:
    await stores.delete_image_store(ctx, p.id)
    return Success()
