"""`python -m bench.nohistory`: `python -m selfhost` keeping no history, the bench's peer for what the history costs.

Everything else is the real server on its default SQLite store (rooms are still written
behind); only the recorder, which turns what a room accepted into history, records nothing.
"""

from __future__ import annotations

import sys

from selfhost.__main__ import main
from shared.history import Recorder, Recording
from shared.room import Room
from shared.room_operations import Operation


class NothingRecorded(Recorder):
    def after(self, room: Room | None, operation: Operation) -> Recording:
        return Recording([])


if __name__ == "__main__":
    sys.exit(main(recorder=NothingRecorded()))
