"""Presence throttling: viewers hear of joins and leaves at most once per interval.

A room filling with N viewers then costs about N presence messages, not N squared; the
room's writers still hear every change at once. The state is the host's: one throttle per
process (self-hosted) or per instance (Azure), passed to the handlers.
"""

from __future__ import annotations

import math


class PresenceThrottle:
    def __init__(self, interval_seconds: float) -> None:
        self.interval = interval_seconds
        self._sent: dict[str, float] = {}  # room -> when its viewers last heard
        self._due: dict[str, float] = {}  # room -> when a change they have not heard of came

    def may_tell_viewers(self, room_id: str, now: float) -> bool:
        """Whether the room's viewers may hear of a change now; if not, it is kept as due."""
        if self.interval == 0 or now - self._sent.get(room_id, -math.inf) >= self.interval:
            self._sent[room_id] = now
            self._due.pop(room_id, None)
            return True
        self._due[room_id] = now
        return False

    def due(self, now: float) -> list[str]:
        """The rooms whose viewers should now hear of a change held back; each is marked told."""
        ready = [room for room in self._due if now - self._sent.get(room, -math.inf) >= self.interval]
        for room in ready:
            del self._due[room]
            self._sent[room] = now
        for room, sent in list(self._sent.items()):  # forget rooms long quiet
            if now - sent > 2 * self.interval and room not in self._due:
                del self._sent[room]
        return ready
