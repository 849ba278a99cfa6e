"""Keep credentials out of the log.

uvicorn logs each websocket's path with its query string, which carries `access_token` when a
client (the tutorial's) puts its token in the URL; at debug level its websocket library also
dumps every frame, writer keys and streamed text included.
"""

from __future__ import annotations

import logging
import re

_IN_QUERY = re.compile(r"((?:access_token|token|writer_key)=)[^&\s\"']+")
_IN_JSON = re.compile(r"(\"(?:access_token|token|writer_key)\"\s*:\s*\")[^\"]*")


def redact(text: str) -> str:
    return _IN_JSON.sub(r"\1[redacted]", _IN_QUERY.sub(r"\1[redacted]", text))


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and hasattr(record.args[0], "opcode"):
            return False  # a websocket frame dump: what clients send is not for the log
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_logs() -> None:
    """Filter every log handler configured so far (call it after uvicorn set up logging)."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactCredentials) for f in handler.filters):
                handler.addFilter(RedactCredentials())
