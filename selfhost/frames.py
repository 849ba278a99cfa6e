"""WebSocket frames as a server sends them (RFC 6455 section 5.2): never masked, never fragmented."""

from __future__ import annotations

TEXT = 0x1
_FIN = 0x80


def text_frame(payload: bytes) -> bytes:
    """One final, uncompressed text frame (RSV1 unset, so permessage-deflate peers take it as is)."""
    n = len(payload)
    if n < 126:
        head = bytes((_FIN | TEXT, n))
    elif n < 65536:
        head = bytes((_FIN | TEXT, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((_FIN | TEXT, 127)) + n.to_bytes(8, "big")
    return head + payload
