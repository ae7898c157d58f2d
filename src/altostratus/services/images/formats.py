"""An image's virtual size (the disk a VM gets) from its own bytes.

QCOW2 keeps it in its header, VHD in its 512-byte footer; a RAW image is its bytes. For
other formats (OVA) the bytes are all we know.
"""

from __future__ import annotations

import struct

__all__ = ["HEAD_BYTES", "TAIL_BYTES", "virtual_size"]

#: How much of the start and of the end of an image ``virtual_size`` needs.
HEAD_BYTES = 512
TAIL_BYTES = 512

_QCOW2_MAGIC = b"QFI\xfb"
_VHD_COOKIE = b"conectix"


def virtual_size(image_format: str, head: bytes, tail: bytes, physical: int) -> int:
    """The virtual size of an image of ``physical`` bytes starting with ``head`` and
    ending with ``tail``; its physical size when the format's header says nothing."""
    fmt = image_format.upper()
    if fmt == "QCOW2" and head[:4] == _QCOW2_MAGIC and len(head) >= 32:
        (size,) = struct.unpack(">Q", head[24:32])
        return int(size)
    if fmt == "VHD" and len(tail) == TAIL_BYTES and tail[:8] == _VHD_COOKIE:
        (size,) = struct.unpack(">Q", tail[48:56])
        return int(size)
    return physical
