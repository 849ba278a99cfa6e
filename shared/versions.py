"""The version rules that keep every copy of a text equal to the writer's.

Held by the server's room and by every viewer (the browser client mirrors this module).

Versions count the deltas a text has seen. Two numberings are in use:

- native (codestream's writer): deltas are numbered 1, 2, 3, ...; `delta.version` is the
  version of the text after it, `full.version` the version of its content.
- tutorial (Microsoft's sample writer): deltas are numbered from 0 and `full.version` is the
  number of its next delta, so its delta `v` is native version `v + 1`, and its fulls
  already mean the same as native ones.

A `full` may say which numbering its sender uses (`numbering`: the server's own fulls do
once the room knows, and codestream's writer always does). Otherwise deltas are kept by the
number they were sent with, and the numbering is inferred the first time it matters: a
delta 0 is tutorial; right after a full with version `k`, a delta `k` is tutorial and a
delta `k + 1` native; on an empty text with no full, a delta 1 is native.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
Numbering = Literal["native", "tutorial"]


class Outcome(Enum):
    APPLIED = "applied"  # this delta (and perhaps held ones after it) applied
    DUPLICATE = "duplicate"  # already in the text: dropped
    HELD = "held"  # waits for an earlier delta
    STALE = "stale"  # a full older than the text held: dropped


@dataclass
class VersionTracker(Generic[T]):
    """Orders deltas; calls `apply` for each delta whose turn has come.

    `apply` may raise to refuse a delta: the version then stays where it was.
    """

    version: int | None = None  # native version of the text held; None: no base yet
    numbering: Numbering | None = None
    held: dict[int, T] = field(default_factory=dict)  # by the number it was sent with
    gap_since: float | None = None  # when the oldest unresolved gap appeared

    def native(self, sent: int) -> int | None:
        if self.numbering == "tutorial":
            return sent + 1
        if self.numbering == "native":
            return sent
        return None

    def has_base(self) -> bool:
        return self.version is not None

    def is_current(self) -> bool:
        """Holding a base and no out-of-order deltas: the text is as fresh as it knows."""
        return self.version is not None and not self.held

    def accepts_full(self, version: int) -> bool:
        """A full replaces the text unless it is older than the text held."""
        return self.version is None or version >= self.version

    def on_full(self, version: int, apply: Callable[[T], None], numbering: Numbering | None = None) -> Outcome:
        """Account for a full text with `version` whose content the caller has just stored.

        `numbering` is the full's own word on it (the server's own fulls and codestream's
        writer say it), which settles what inference could get wrong under reordering.
        """
        if not self.accepts_full(version):
            return Outcome.STALE
        self.version = version
        if numbering is not None:
            self.numbering = numbering
        # A held delta k reached us before full k, so it was sent first: a native writer's delta k
        # (inside the full). The tutorial's delta k is sent after its full k, so deciding here
        # "tutorial" would apply a native delta twice on the usual sync-recovery path.
        if self.numbering is None:
            self.numbering = "native" if version in self.held or version + 1 in self.held else None
        self.drain(apply)
        return Outcome.APPLIED

    def on_delta(self, sent: int, delta: T, apply: Callable[[T], None], now: float) -> Outcome:
        before = self.numbering, self.version
        self._infer(sent)
        version = self.native(sent)
        if version is not None and self.version is not None and version <= self.version:
            return Outcome.DUPLICATE
        if version is None or self.version is None or version > self.version + 1:
            if sent not in self.held and self.gap_since is None:
                self.gap_since = now
            self.held.setdefault(sent, delta)
            return Outcome.HELD
        try:
            apply(delta)
        except Exception:
            self.numbering, self.version = before  # a refused delta decides nothing, not even a base
            raise
        self.version = version
        self.drain(apply)
        return Outcome.APPLIED

    def drain(self, apply: Callable[[T], None]) -> None:
        """Apply held deltas while the next one is there."""
        self._drop_old()
        while self.version is not None and self.numbering is not None:
            sent = self.version if self.numbering == "tutorial" else self.version + 1
            delta = self.held.pop(sent, None)
            if delta is None:
                break
            apply(delta)
            self.version += 1
        self.gap_since = self.gap_since if self.held else None

    def gap_age(self, now: float) -> float:
        """How long a gap (or a missing base) has lasted; 0 when there is none."""
        return 0.0 if self.gap_since is None else now - self.gap_since

    def reset(self) -> None:
        """Forget every held delta (after a refused one or a full that replaces them)."""
        self.held.clear()
        self.gap_since = None

    def _infer(self, sent: int) -> None:
        if self.numbering is not None:
            return
        if sent == 0:
            self.numbering = "tutorial"
        elif self.version is None:
            if sent == 1:
                self.numbering, self.version = "native", 0
        elif sent == self.version:
            self.numbering = "tutorial"
        elif sent == self.version + 1:
            self.numbering = "native"
        if self.numbering == "tutorial" and self.version is None:
            self.version = 0  # a tutorial writer's delta 0 applies to the empty text
        if self.numbering is not None:
            self._drop_old()

    def _drop_old(self) -> None:
        if self.version is None:
            return
        # Under either numbering a delta sent with a number below the version is old.
        last = self.version if self.numbering == "native" else self.version - 1
        for sent in [s for s in self.held if s <= last]:
            del self.held[sent]
        if not self.held:
            self.gap_since = None
