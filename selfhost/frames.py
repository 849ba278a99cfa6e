"""WebSocket frames as a server sends them (RFC 6455 section 5.2): never masked, never fragmented."""

from __future__ import annotations

TEXT = 0x1
_FIN = 0x80


def text_frame(payload: bytes) -> bytes:
    """One final, uncompressed text frame (RSV1 unset, so permessage-deflate peers take it as is)."""
    return frame_header(TEXT, len(payload)) + payload


def frame_header(opcode: int, length: int, masked: bool = False) -> bytes:
    """A final frame's first bytes: opcode, then the payload length in 7, 16 or 64 bits.
    `masked` sets the mask bit, as clients must (the caller appends the 4-byte key)."""
    mask = 0x80 if masked else 0
    if length < 126:
        return bytes((_FIN | opcode, mask | length))
    if length < 65536:
        return bytes((_FIN | opcode, mask | 126)) + length.to_bytes(2, "big")
    return bytes((_FIN | opcode, mask | 127)) + length.to_bytes(8, "big")
