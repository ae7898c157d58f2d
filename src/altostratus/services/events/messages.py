"""An event as CloudStack's event bus sends it: its routing key and its JSON body.

Consumers written for CloudStack bind to keys laid out as
``source.category.type.resourceType.resourceUUID`` (``EventTopic``): the source is
always ``management-server``, every event of the events table is an ``ActionEvent``, a
dot inside a part becomes ``-`` (``VM.CREATE`` → ``VM-CREATE``) and an empty part is
``*``. The body has the fields ``ActionEventUtils`` puts in its description map, with
the same names; ``eventuuid`` is ours, so a consumer can drop a message it already has
(the outbox sends at least once). Webhooks deliver the same body.
"""

from __future__ import annotations

import orjson

from altostratus.db.models import Event

__all__ = ["CATEGORY", "SOURCE", "event_body", "event_payload", "routing_key"]

SOURCE = "management-server"
CATEGORY = "ActionEvent"


def _part(value: str | None) -> str:
    return value.replace(".", "-") if value else "*"


def routing_key(event: Event) -> str:
    parts = (SOURCE, CATEGORY, event.type, event.resource_type, event.resource_uuid)
    return ".".join(_part(part) for part in parts)


def event_body(event: Event) -> dict[str, str | None]:
    """CloudStack's fields: ``eventDateTime`` in its ``yyyy-MM-dd HH:mm:ss Z`` form."""
    return {
        "eventuuid": event.uuid,
        "user": event.user_uuid,
        "account": event.account_uuid,
        "domain": event.domain_uuid,
        "event": event.type,
        "status": event.state,
        "entity": event.resource_type,
        "entityuuid": event.resource_uuid,
        "description": event.description,
        "eventDateTime": event.created.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def event_payload(event: Event) -> bytes:
    """The body as sent: JSON, keys in a stable order (a signature covers these bytes)."""
    return orjson.dumps(event_body(event))
