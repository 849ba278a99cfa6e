"""codestream's core: protocol, text, rooms, capabilities and handlers. No I/O here."""
