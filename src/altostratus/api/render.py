"""JSON and XML answers in CloudStack's shape: one top-level ``<command>response`` key.

Whatever a value holds, the answer stays readable: XML gets only the characters XML 1.0
can carry (others become U+FFFD), and the ``X-Description`` header is one short line.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

import orjson
from starlette.responses import Response

from altostratus import CLOUDSTACK_API_VERSION
from altostratus.errors import CloudError

__all__ = ["DESCRIPTION_MAX", "description_header", "error_response", "render"]

#: What XML 1.0 cannot carry at all, even escaped (its ``Char`` production).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Longest ``X-Description`` sent; the body keeps the whole text.
DESCRIPTION_MAX = 512
_NOT_HEADER = re.compile("[\x00-\x1f\x7f]+")


_NOT_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def _xml_name(key: str) -> str:
    """An element name for ``key``: field names pass as they are; a user's own map key
    (``accountdetails``) that XML could not take as a name gets ``_`` for what it cannot."""
    name = _NOT_NAME.sub("_", key)
    return name if name[:1].isalpha() or name[:1] == "_" else f"_{name}"


def _xml_children(parent: ElementTree.Element, name: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _xml_children(parent, name, item)
        return
    element = ElementTree.SubElement(parent, _xml_name(name))
    if isinstance(value, dict):
        for key, inner in value.items():
            _xml_children(element, key, inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = _xml_text(str(value))


def _xml(root_name: str, payload: dict[str, Any]) -> bytes:
    root = ElementTree.Element(
        _xml_name(root_name), {"cloud-stack-version": CLOUDSTACK_API_VERSION}
    )
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
    return render(
        root_name,
        payload,
        as_json=as_json,
        status=error.code,
        headers={"X-Description": description_header(error.text)},
    )


def description_header(text: str) -> str:
    """``text`` as a header value cloudmonkey prints: latin-1, one line, at most
    ``DESCRIPTION_MAX`` characters. A parameter value echoed in an error text must not
    end the header (CR, LF) or the connection (NUL), nor make a megabyte header."""
    line = _NOT_HEADER.sub(" ", text.encode("latin-1", "replace").decode("latin-1")).strip()
    if len(line) > DESCRIPTION_MAX:
        line = line[: DESCRIPTION_MAX - 3] + "..."
    return line
