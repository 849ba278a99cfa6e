"""WebSocket frames as a server sends them (RFC 6455 section 5.2): never masked, never fragmented."""

from __future__ import annotations

TEXT = 0x1
_FIN = 0x80
_RSV1 = 0x40  # permessage-deflate: this message is compressed (RFC 7692 section 6)


def text_frame(payload: bytes, compressed: bool = False) -> bytes:
    """One final text frame. Uncompressed (RSV1 unset), permessage-deflate peers take it as is;
    `compressed`: the payload is a message deflated as RFC 7692 says, and RSV1 is set."""
    return frame_header(TEXT, len(payload), rsv1=compressed) + payload


def frame_header(opcode: int, length: int, masked: bool = False, rsv1: bool = False) -> bytes:
    """A final frame's first bytes: opcode, then the payload length in 7, 16 or 64 bits.
    `masked` sets the mask bit, as clients must (the caller appends the 4-byte key)."""
    first = _FIN | (_RSV1 if rsv1 else 0) | opcode
    mask = 0x80 if masked else 0
    if length < 126:
        return bytes((first, mask | length))
    if length < 65536:
        return bytes((first, mask | 126)) + length.to_bytes(2, "big")
    return bytes((first, mask | 127)) + length.to_bytes(8, "big")
