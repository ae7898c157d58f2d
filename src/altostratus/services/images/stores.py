"""Image stores: adding, listing, switching to read-only, removing; and which one a new
image goes to.

A new image goes to a writable store of its zone, else to a writable region-wide one,
else (no store added at all, the quick start) to the local directory under
``data_dir/images``. A store is removed only once no template refers to it: a deleted
template's row stays while VMs use it, and so do its bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from altostratus.core.context import Dependencies, ServiceContext
from altostratus.core.paging import Page, PageRequest, equal_if_given, keyword_filter, paginate
from altostratus.db.models import ImageStore, ImageStoreProvider, Template, Zone
from altostratus.errors import ResourceInUse, invalid
from altostratus.services.images.local import LocalStore
from altostratus.services.images.objects import ObjectStore
from altostratus.services.images.s3 import S3Settings, S3Store
from altostratus.services.shared.events import record_event
from altostratus.services.shared.lookup import ensure_name_free, find_by_uuid

__all__ = [
    "S3_DETAILS",
    "StoreFilter",
    "StoreSpec",
    "add_image_store",
    "delete_image_store",
    "list_image_stores",
    "open_store",
    "store_for_zone",
    "update_image_store",
]

#: The details an S3 store needs; the others (``usehttps``, timeouts) are optional.
S3_DETAILS = ("accesskey", "secretkey", "bucket", "endpoint")


@dataclass(frozen=True)
class StoreSpec:
    name: str
    provider: ImageStoreProvider
    url: str | None = None
    zone_uuid: str | None = None
    #: Lower-case keys: ``bucket``, ``endpoint``, ``accesskey``, ``secretkey``, ...
    details: dict[str, str] = field(default_factory=dict)


def _s3_settings(details: dict[str, str]) -> S3Settings:
    missing = [key for key in S3_DETAILS if not details.get(key)]
    if missing:
        raise invalid("details", f"an S3 store needs {', '.join(missing)}")
    endpoint = details["endpoint"]
    if "://" not in endpoint:
        https = details.get("usehttps", "true").lower() != "false"
        endpoint = f"{'https' if https else 'http'}://{endpoint}"
    if urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).hostname:
        raise invalid("endpoint", "must be host[:port] or an http(s) URL", value=endpoint)
    try:
        return S3Settings(
            endpoint=endpoint,
            bucket=details["bucket"],
            access_key=details["accesskey"],
            secret_key=details["secretkey"],
            region=details.get("region", "us-east-1"),
            connection_timeout=float(details.get("connectiontimeout", 10000)) / 1000,
            socket_timeout=float(details.get("sockettimeout", 60000)) / 1000,
            max_error_retry=int(details.get("maxerrorretry", 3)),
        )
    except ValueError:
        raise invalid("details", "timeouts and retries must be numbers") from None


async def add_image_store(ctx: ServiceContext, spec: StoreSpec) -> ImageStore:
    await ensure_name_free(ctx, ImageStore, spec.name, ImageStore.id.is_not(None), parameter="name")
    zone = await find_by_uuid(ctx, Zone, spec.zone_uuid, "zoneid") if spec.zone_uuid else None
    if spec.provider is ImageStoreProvider.S3:
        s3 = _s3_settings(spec.details)
        url, protocol = f"{s3.endpoint.rstrip('/')}/{s3.bucket}", urlsplit(s3.endpoint).scheme
    else:
        if spec.details or spec.url:
            raise invalid("url", "the local store is always data_dir/images")
        url, protocol = "file://" + str(_local_root(ctx.deps)), "file"
    store = ImageStore(
        name=spec.name,
        provider=spec.provider,
        url=url,
        protocol=protocol,
        zone_id=zone.id if zone else None,
        read_only=False,
        details=ctx.deps.keyring.encrypt(json.dumps(spec.details)),
    )
    ctx.session.add(store)
    await ctx.session.flush()
    await ctx.session.refresh(store, ["zone"])
    await _event(ctx, store, "IMAGE.STORE.CREATE", "Added")
    return store


@dataclass(frozen=True)
class StoreFilter:
    uuid: str | None = None
    name: str | None = None
    provider: str | None = None
    zone: Zone | None = None
    protocol: str | None = None
    read_only: bool | None = None
    keyword: str | None = None


async def list_image_stores(
    ctx: ServiceContext, wanted: StoreFilter, page: PageRequest
) -> Page[ImageStore]:
    query = select(ImageStore).where(
        equal_if_given(
            (ImageStore.uuid, wanted.uuid),
            (ImageStore.name, wanted.name),
            (ImageStore.provider, wanted.provider),
            (ImageStore.protocol, wanted.protocol),
            (ImageStore.read_only, wanted.read_only),
        ),
        keyword_filter(wanted.keyword, ImageStore.name),
    )
    if wanted.zone is not None:
        query = query.where(or_(ImageStore.zone_id.is_(None), ImageStore.zone_id == wanted.zone.id))
    return await paginate(ctx.session, query.order_by(ImageStore.id), page)


async def update_image_store(
    ctx: ServiceContext, uuid: str, *, read_only: bool | None, name: str | None
) -> ImageStore:
    store = await find_by_uuid(ctx, ImageStore, uuid, "id")
    if name is not None:
        await ensure_name_free(
            ctx, ImageStore, name, ImageStore.id.is_not(None), parameter="name", renamed=store
        )
        store.name = name
    if read_only is not None:
        store.read_only = read_only
    await ctx.session.flush()
    await _event(ctx, store, "IMAGE.STORE.UPDATE", "Updated")
    return store


async def delete_image_store(ctx: ServiceContext, uuid: str) -> None:
    store = await find_by_uuid(ctx, ImageStore, uuid, "id")
    held = await ctx.session.scalar(
        select(func.count()).select_from(Template).where(Template.image_store_id == store.id)
    )
    if held:
        raise ResourceInUse(
            f"Image store {store.name} holds {held} template(s): delete them, or make it "
            "read-only (updateImageStore readonly=true) so no new ones go there"
        )
    await _event(ctx, store, "IMAGE.STORE.DELETE", "Deleted")
    await ctx.session.delete(store)


async def store_for_zone(session: AsyncSession, zone_id: int | None) -> ImageStore | None:
    """The writable store a new image of zone ``zone_id`` goes to; ``None``: the local one."""
    query = select(ImageStore).where(ImageStore.read_only.is_(False))
    own = (
        await session.scalar(query.where(ImageStore.zone_id == zone_id).order_by(ImageStore.id))
        if zone_id is not None
        else None
    )
    return own or await session.scalar(
        query.where(ImageStore.zone_id.is_(None)).order_by(ImageStore.id)
    )


def open_store(deps: Dependencies, store: ImageStore | None) -> ObjectStore:
    """A client of ``store`` (``None``: the local directory); the caller closes it."""
    if store is None or store.provider == ImageStoreProvider.LOCAL:
        return LocalStore(_local_root(deps))
    details: dict[str, str] = json.loads(deps.keyring.decrypt(store.details))
    return S3Store(_s3_settings(details))


def _local_root(deps: Dependencies) -> Path:
    return (deps.file_settings.data_dir / "images").resolve()


async def _event(ctx: ServiceContext, store: ImageStore, event_type: str, verb: str) -> None:
    await record_event(
        ctx,
        event_type,
        f"{verb} image store {store.name} ({store.uuid})",
        resource_type="ImageStore",
        resource_uuid=store.uuid,
    )
