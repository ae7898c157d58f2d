"""JSON and XML answers in CloudStack's shape: one top-level ``<command>response`` key."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import orjson
from starlette.responses import Response

from altostratus import CLOUDSTACK_API_VERSION
from altostratus.errors import CloudError

__all__ = ["error_response", "render"]


def _xml_children(parent: ElementTree.Element, name: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _xml_children(parent, name, item)
        return
    element = ElementTree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _xml_children(element, key, inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


def _xml(root_name: str, payload: dict[str, Any]) -> bytes:
    root = ElementTree.Element(root_name, {"cloud-stack-version": CLOUDSTACK_API_VERSION})
    for key, value in payload.items():
        _xml_children(root, key, value)
    text: bytes = ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return text


def render(
    root_name: str,
    payload: dict[str, Any],
    *,
    as_json: bool,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    if as_json:
        body = orjson.dumps({root_name: payload})
        media = "application/json; charset=UTF-8"
    else:
        body = _xml(root_name, payload)
        media = "text/xml; charset=UTF-8"
    return Response(body, status_code=status, media_type=media, headers=headers)


def error_response(root_name: str, error: CloudError, *, as_json: bool) -> Response:
    payload = {
        "uuidList": [],
        "errorcode": error.code,
        "cserrorcode": error.cs_code,
        "errortext": error.text,
    }
    # HTTP headers are latin-1; cloudmonkey prints this one as the error.
    description = error.text.encode("latin-1", "replace").decode("latin-1").replace("\n", " ")
    return render(
        root_name,
        payload,
        as_json=as_json,
        status=error.code,
        headers={"X-Description": description},
    )
