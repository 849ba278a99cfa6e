"""The Room entity's step on one Functions instance: apply the operation, then record it.

The entity function (function_app.Room) is synchronous: the Durable Python SDK runs an
entity's operations with a plain call (`Entity.handle`), and the worker runs a sync function
in its thread pool, off the event loop. So the entity does its I/O with the synchronous Table
clients, in that thread, one operation at a time per room (the actor guarantee), before the
new state is returned. This is the one place every room change passes, so it is where:

- after a `Receive` or an `End`, the instance's `Recorder` (one per instance, shared/history.py)
  says what to append and whether to checkpoint, and the Table history gets it;
- after a `Delete`, the history is deleted and the recorder forgets the room;
- an operation that moves `next_sweep_at(room)` moves the room's row of the sweep's index
  (azure_adapter/room_index.py);
- `drop` (this adapter's own operation, signalled by the sweep) destructs a room that
  `sweep_verdict` says to drop without a trace (a tombstone past its time, an idle blank room).

The live room never waits on the history's health: a history write that fails is logged and
the recorder forgets the room, so the next text change begins with a checkpoint (the versions
between are missing from the history; their text reads as the version before). A failure of
the index, by contrast, fails the operation before anything else is written (the Python SDK
keeps the state the entity had), so that no room escapes the sweep; so does a failed delete.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.history import Recorder
from shared.room import Room
from shared.room_codec import room_from_dict, room_to_dict
from shared.room_operations import (
    Deleted,
    Operation,
    Refused,
    Result,
    State,
    apply,
    decode,
    next_sweep_at,
    sweep_verdict,
)
from shared.settings import Settings

from .room_index import RoomIndex
from .table_history import TableHistory

log = logging.getLogger("codestream")

DROP = "drop"  # the sweep's operation: forget a room without a trace, when `sweep_verdict` says so


class RoomEntity:
    def __init__(self, settings: Settings, history: TableHistory, index: RoomIndex, recorder: Recorder) -> None:
        self.settings = settings
        self.history = history
        self.index = index
        self.recorder = recorder

    def step(self, room_id: str, state: State, name: str, value: Any) -> State:
        """The state to save after operation `name` (None: no room)."""
        room = None if state is None else room_from_dict(state, self.settings)
        due_before = None if room is None else next_sweep_at(room, self.settings)  # `apply` changes `room`
        operation: Operation | None = None
        result: Result = None
        if name == DROP:
            after = self._drop(room_id, room, value)
        else:
            operation = decode(name, value, self.settings)
            after, result = apply(room, room_id, operation, self.settings)
            if isinstance(result, Refused):
                log.info("room %s refused %s: %s", room_id, name, result.error.message)
        # The index first: if it fails, the operation fails before anything else is written.
        self.index.move(room_id, due_before, None if after is None else next_sweep_at(after, self.settings))
        if isinstance(result, Deleted):
            self.recorder.forget(room_id)
            self.history.delete_history(room_id)  # fails the operation if it fails: a delete is done again
        elif after is not None and operation is not None:
            self._record(room_id, after, operation)
        return None if after is None else room_to_dict(after)

    def _record(self, room_id: str, room: Room, operation: Operation) -> None:
        recording = self.recorder.after(room, operation)
        try:
            self.history.append(room_id, recording.entries)
            if recording.checkpoint is not None:
                self.history.checkpoint(room_id, recording.checkpoint)
        except Exception:
            log.exception("room %s: the history missed an entry; it checkpoints at the next text change", room_id)
            self.recorder.forget(room_id)

    def _drop(self, room_id: str, room: Room | None, value: Any) -> Room | None:
        """The sweep's `drop`: gone without a trace if `sweep_verdict` says so at `at`, else kept."""
        at = value.get("at") if isinstance(value, dict) else None
        if room is None or not isinstance(at, int | float) or sweep_verdict(room, at, self.settings) is not True:
            return room
        self.recorder.forget(room_id)
        return None
