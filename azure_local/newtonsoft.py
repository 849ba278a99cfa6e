"""What the Functions host and the Socket.IO extension do to JSON strings that look like dates.

Both read JSON with Newtonsoft.Json's defaults (`DateParseHandling.DateTime`): a whole string
value in ISO 8601 form (19 to 40 characters, `T` at index 10) or `/Date(ms)/` becomes a
DateTime, written back in Newtonsoft's own ISO form. The stand-in applies this where the real
path does (a client event's `parameters` on the way in, an output binding value the function
wrote as a string on the way out), so a test fails when codestream trusts those copies.
This covers the forms a pasted timestamp takes, not every quirk of Newtonsoft's parser.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

_ISO = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,7}))?(?P<zone>Z|[+-]\d{2}:\d{2})?"
)
_MS = re.compile(r"/Date\((?P<ms>-?\d+)\)/")


def rewrite_dates(value: Any) -> Any:
    """`value` with every whole string Newtonsoft reads as a date written back as it writes it."""
    if isinstance(value, str):
        return _rewrite(value)
    if isinstance(value, list):
        return [rewrite_dates(item) for item in value]
    if isinstance(value, dict):
        return {key: rewrite_dates(item) for key, item in value.items()}  # names are never dates
    return value


def _rewrite(text: str) -> str:
    if (ms := _MS.fullmatch(text)) is not None:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ms["ms"]))
        return _write(moment.replace(tzinfo=None), 0, "Z")
    if not 19 <= len(text) <= 40 or (iso := _ISO.fullmatch(text)) is None:
        return text
    try:
        moment = datetime.strptime(iso["date"], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return text
    ticks = int((iso["fraction"] or "0").ljust(7, "0"))  # 100 ns units, as .NET counts
    zone = iso["zone"]
    if zone and zone != "Z":  # an offset: read as local time of the host, which runs in UTC
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        zone = "+00:00"
    return _write(moment, ticks, zone or "")


def _write(moment: datetime, ticks: int, zone: str) -> str:
    fraction = f"{ticks:07d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + zone
