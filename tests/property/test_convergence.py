"""Convergence: whatever a writer types, the room and every viewer end with the writer's text.

A model writer holds its text as a Python str and edits it as Monaco reports edits: each
change event lists non-overlapping changes against the text before the event, in UTF-16
offsets. Its events are batched into deltas, numbered natively (1, 2, ...) or as the
tutorial's writer does (0, 1, ...; its `full.version` is the next delta's number), and
delivered to the core's handlers shuffled and duplicated, as Azure may deliver them.

Checked after the last delivery:
- the server's room holds the writer's text;
- a viewer fed what the server relays (self-hosted path) holds it;
- a viewer fed every delivered message at once (Azure's `relay_write` path: duplicates and
  disorder reach the viewer) holds it;
- a viewer that joined late holds it too, once the writer answered the `sync` it caused
  (after that viewer joins, messages arrive in the order sent: see below).

The numbering is inferred from the numbers alone, so one window is left out: the writer's
first delta reaches the server before its second delta and before any full. Until then a
tutorial delta 1 is indistinguishable from a native delta 1 (and a native delta k after
full k from the tutorial's delta k); see the unit tests of versions.py for those rules.
A viewer that joins mid-stream meets the same window after its base (the server's snapshot
does not say which numbering the room found), so the late viewer gets no overtaking.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.capabilities import writer_key
from shared.document import Change, Document, utf16_length
from shared.handlers import Caller
from shared.protocol import editor_message
from shared.settings import Settings
from shared.versions import VersionTracker
from tests.support.inline_core import memory_core

Numbering = Literal["native", "tutorial"]

SECRET = b"p" * 32
ROOM = "AAAAAAAAAAAAAAAAAAAAAA"
CONTROL = ROOM + "-control"
KEY = writer_key(SECRET, ROOM)
WRITER = Caller("writer")

# Pieces of typed text: line ends of each kind, BMP and astral characters (emoji, a flag, a
# math letter, a zero-width joiner), a byte-order mark and NUL.
PIECES = ["a", "b", "Z", " ", "\t", "\n", "\r\n", "\r", "é", "中", "😀", "👍🏽", "🇫🇷", "\U0001d538", "\u200d"]
PIECES += ["\ufeff", "\x00"]
PASTE = "def f(x):  # 😀 é\r\n    return x\n" * 3_000  # 93,000 characters, 96,000 UTF-16 units, 105 KB UTF-8
SETTINGS = Settings(messages_per_second=10**9)


# --- the writer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """One change against the pre-event text, in Python (code point) indices."""

    start: int
    end: int
    text: str

    def __repr__(self) -> str:  # a failing example with a 100 KB paste stays readable
        shown = self.text if len(self.text) < 40 else f"{self.text[:20]}...({len(self.text)} chars)"
        return f"Edit({self.start}, {self.end}, {shown!r})"


def same(actual: str, expected: str, who: str) -> None:
    """Equality with a short report: where the texts part, not two 100 KB strings."""
    if actual == expected:
        return
    at = next(
        (i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b), min(map(len, (actual, expected)))
    )
    raise AssertionError(
        f"{who} differs from the writer at {at} (lengths {len(actual)}, {len(expected)}): "
        f"{actual[max(0, at - 20) : at + 20]!r} != {expected[max(0, at - 20) : at + 20]!r}"
    )


def apply_event(text: str, edits: list[Edit]) -> str:
    parts, position = [], 0
    for edit in sorted(edits, key=lambda e: e.start):
        parts += [text[position : edit.start], edit.text]
        position = edit.end
    return "".join(parts) + text[position:]


def position(text: str, index: int) -> tuple[int, int]:
    """Monaco's 1-based line and UTF-16 column of code point `index`."""
    before = text[:index]
    line_start = before.rfind("\n") + 1
    return before.count("\n") + 1, utf16_length(before[line_start:]) + 1


def monaco_event(text: str, edits: list[Edit], version_id: int) -> dict[str, Any]:
    """The IModelContentChangedEvent Monaco would hand the writer for `edits` on `text`."""
    changes = []
    for edit in edits:
        (start_line, start_column), (end_line, end_column) = position(text, edit.start), position(text, edit.end)
        changes.append(
            {
                "range": {
                    "startLineNumber": start_line,
                    "startColumn": start_column,
                    "endLineNumber": end_line,
                    "endColumn": end_column,
                },
                "rangeLength": utf16_length(text[edit.start : edit.end]),
                "text": edit.text,
                "rangeOffset": utf16_length(text[: edit.start]),
            }
        )
    eol = "\r\n" if "\r\n" in text else "\n"
    flags = {"isUndoing": False, "isRedoing": False, "isFlush": False, "isEolChange": False}
    return {"changes": changes, "eol": eol, "versionId": version_id, **flags}


@dataclass
class Script:
    """What the writer did: its change events, how they were batched, and where it sent a full."""

    numbering: Numbering
    events: list[tuple[str, list[Edit]]] = field(default_factory=list)  # (text before, edits)
    batches: list[int] = field(default_factory=list)  # events per delta
    full_after: int | None = None  # deltas sent before the writer's full
    _sent: list[dict[str, Any]] | None = field(default=None, repr=False)

    def final_text(self) -> str:
        text = ""
        for before, edits in self.events:
            assert before == text
            text = apply_event(text, edits)
        return text

    def messages(self) -> list[dict[str, Any]]:
        """Stream messages in the order the writer sent them."""
        if self._sent is None:
            self._sent = self._messages()
        return self._sent

    def _messages(self) -> list[dict[str, Any]]:
        first = 0 if self.numbering == "tutorial" else 1
        sent: list[dict[str, Any]] = []
        text, event_index = "", 0
        for number, size in enumerate(self.batches):
            if number == self.full_after:
                # Native: the version of the content (deltas so far); tutorial: the next delta's number.
                sent.append({"type": "full", "version": number, "content": text})
            changes = []
            for before, edits in self.events[event_index : event_index + size]:
                changes.append(monaco_event(before, edits, version_id=event_index + 2))
                text = apply_event(before, edits)
                event_index += 1
            sent.append({"type": "delta", "version": first + number, "changes": changes})
        if self.full_after == len(self.batches):
            sent.append({"type": "full", "version": len(self.batches), "content": text})
        return sent


# --- viewers ------------------------------------------------------------------------------


class Viewer:
    """The browser viewer's rules: a base first, then deltas ordered by VersionTracker."""

    def __init__(self) -> None:
        self.document = Document()
        self.tracker: VersionTracker[dict[str, Any]] = VersionTracker()

    def receive(self, message: dict[str, Any]) -> None:
        assert message["type"] == "editorMessage", message
        data = message["data"]
        if data.get("type") == "full" and self.tracker.accepts_full(data["version"]):
            self.document.replace_all(data["content"])
            self.tracker.on_full(data["version"], self._apply)
        elif data.get("type") == "delta" and self.tracker.has_base():
            self.tracker.on_delta(data["version"], data, self._apply, 0.0)
        elif data.get("type") == "delta":
            self.tracker.held.setdefault(data["version"], data)  # no base yet: keep it for later

    def _apply(self, delta: dict[str, Any]) -> None:
        events = [
            [Change(c["rangeOffset"], c["rangeLength"], c["text"]) for c in e["changes"]] for e in delta["changes"]
        ]
        self.document.apply(events)


def messages_to(actions: list[dict[str, Any]], socket_or_room: str) -> list[dict[str, Any]]:
    """What the actions deliver to one socket (directly, or through its room)."""
    found = []
    for action in actions:
        to_socket = action["actionName"] == "sendToSocket" and action["socketId"] == socket_or_room
        to_room = action["actionName"] == "sendToRooms" and socket_or_room in action["rooms"]
        if (to_socket or to_room) and action["eventName"] == "message":
            found += action["parameters"]
    return found


def asks_writer(actions: list[dict[str, Any]]) -> bool:
    return {"type": "editorMessage", "data": {"data": "sync"}} in messages_to(actions, CONTROL)


# --- the run ------------------------------------------------------------------------------


async def stream(script: Script, delivery: list[int], late_join: int) -> None:
    expected = script.final_text()
    sent = script.messages()
    handlers = memory_core(SETTINGS, SECRET)
    relayed, azure, late = Viewer(), Viewer(), Viewer()

    await handlers.join_room(WRITER, {"room_id": ROOM, "writer_key": KEY})
    for viewer, sid in ((relayed, "relayed"), (azure, "azure")):
        for message in messages_to(await handlers.join_room(Caller(sid), {"room_id": ROOM}), sid):
            if message["type"] == "editorMessage":
                viewer.receive(message)
    assert relayed.tracker.version == azure.tracker.version == 0  # the empty room's snapshot

    async def join_late() -> bool:
        joined = await handlers.join_room(Caller("late"), {"room_id": ROOM})
        for message in messages_to(joined, "late"):
            if message["type"] == "editorMessage":
                late.receive(message)
        if not late.tracker.has_base():  # the room was behind: no snapshot, the writer was asked
            assert asks_writer(joined)
        return late.tracker.has_base()

    late_got_snapshot = False

    order = list(delivery)
    for step in range(len(order)):
        if step == late_join:
            late_got_snapshot = await join_late()
            # Outside the window of the module docstring for this viewer too: it decides the
            # numbering afresh from what follows its base, so from here on nothing overtakes.
            order[step:] = sorted(order[step:])
        index = order[step]
        payload = {"room_id": ROOM, "data": sent[index], "writer_key": KEY}
        # Azure: relayed as delivered, before any store; every viewer sees duplicates and disorder.
        checked = handlers.check_send(WRITER, payload)
        assert not checked.refusal and checked.message is not None
        azure.receive(editor_message(checked.message.raw))
        actions = await handlers.send_to_room(WRITER, payload)
        assert not [m for m in messages_to(actions, WRITER.socket_id) if m.get("type") == "error"], actions
        for message in messages_to(actions, ROOM):
            relayed.receive(message)
            if step >= late_join:
                late.receive(message)

    if late_join >= len(delivery):
        late_got_snapshot = await join_late()
    room = handlers.store.rooms[ROOM]  # type: ignore[attr-defined]
    same(room.document.text(), expected, "the room")
    assert room.tracker.held == {}
    same(relayed.document.text(), expected, "the viewer fed the server's relays")
    same(azure.document.text(), expected, "the viewer fed every delivery")
    assert relayed.tracker.version == azure.tracker.version == room.tracker.version == len(script.batches)

    if late_got_snapshot:
        same(late.document.text(), expected, "the late viewer")
    else:  # it joined while the room was behind and may have missed a delta: the writer answers `sync`
        version = len(script.batches)  # native: its version; tutorial: its next delta's number
        full = {"type": "full", "version": version, "content": expected}
        actions = await handlers.send_to_room(WRITER, {"room_id": ROOM, "data": full, "writer_key": KEY})
        for message in messages_to(actions, ROOM):
            late.receive(message)
            relayed.receive(message)
        same(late.document.text(), expected, "the late viewer after the writer's full")
        same(relayed.document.text(), expected, "the viewer fed the server's relays, after the full")
        assert late.tracker.version == version


def run(script: Script, delivery: list[int], late_join: int = 0) -> None:
    asyncio.run(stream(script, delivery, late_join))


# --- strategies -----------------------------------------------------------------------------

small_texts = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=6).map("".join),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=4),
)
KINDS = ("insert", "delete", "replace")
# One change: two cut points (taken modulo the text's length + 1), a kind, and a text.
change_plans = st.tuples(st.integers(0, 2**16), st.integers(0, 2**16), st.sampled_from(KINDS), small_texts)
# One event: its changes, and a seed for the order Monaco lists them in.
event_plans = st.tuples(st.lists(change_plans, min_size=1, max_size=4), st.randoms(use_true_random=False))


def make_event(text: str, plan: tuple[list[Any], Any], paste: bool) -> list[Edit]:
    """Non-overlapping changes against `text` with strictly increasing starts, never inside a pair.

    Indices are Python (code point) indices, so a surrogate pair can never be split.
    """
    changes, rng = plan
    points = sorted(p % (len(text) + 1) for a, b, *_ in changes for p in (a, b))
    edits: list[Edit] = []
    for i, (_, _, kind, inserted) in enumerate(changes):
        start, end = points[2 * i], points[2 * i + 1]
        end = start if kind == "insert" else end
        inserted = "" if kind == "delete" else inserted
        if paste and kind != "delete":
            inserted, paste = PASTE, False
        if edits and edits[-1].start == start:
            continue  # two changes at one offset: Monaco merges such cursors
        edits.append(Edit(start, end, inserted))
    rng.shuffle(edits)
    return edits


def draw_script(data: st.DataObject, numbering: Numbering) -> Script:
    plans = data.draw(st.lists(event_plans, min_size=1, max_size=16), label="events")
    paste_at = data.draw(st.integers(0, 299), label="100 KB paste in event (if < events)")
    script = Script(numbering)
    text = ""
    for number, plan in enumerate(plans):
        edits = make_event(text, plan, paste=number == paste_at)
        script.events.append((text, edits))
        text = apply_event(text, edits)
    sizes = data.draw(st.lists(st.integers(1, 4), min_size=len(plans), max_size=len(plans)), label="batches")
    remaining = len(plans)
    for size in sizes:
        if remaining:
            script.batches.append(min(size, remaining))
            remaining -= script.batches[-1]
    if data.draw(st.booleans(), label="full mid-stream"):
        script.full_after = data.draw(st.integers(0, len(script.batches)), label="full after delta")
    return script


def draw_delivery(data: st.DataObject, script: Script) -> list[int]:
    """Every message at least once, shuffled, some twice; the first delta leads the window above."""
    sent = script.messages()
    order = list(data.draw(st.permutations(range(len(sent))), label="order"))
    copies = st.tuples(st.integers(0, len(sent) - 1), st.integers(0, 2 * len(sent)))
    for index, at in data.draw(st.lists(copies, max_size=len(sent)), label="duplicates (message, position)"):
        order.insert(at % (len(order) + 1), index)
    first, second, *_ = [i for i, m in enumerate(sent) if m["type"] == "delta"] + [-1]
    deciding = [p for p, i in enumerate(order) if sent[i]["type"] == "full" or i == second]
    if deciding and order.index(first) > deciding[0]:
        order.remove(first)
        order.insert(deciding[0], first)
    return order


@given(st.data(), st.sampled_from(["native", "tutorial"]))
def test_everyone_converges_on_the_writers_text(data: st.DataObject, numbering: Numbering) -> None:
    script = draw_script(data, numbering)
    delivery = draw_delivery(data, script)
    late_join = data.draw(st.integers(0, len(delivery)), label="late viewer joins before step")
    run(script, delivery, late_join)


@settings(max_examples=max(1, settings.default.max_examples // 2))  # half the profile's: a narrower case
@given(st.data(), st.sampled_from(["native", "tutorial"]))
def test_in_order_delivery_converges(data: st.DataObject, numbering: Numbering) -> None:
    script = draw_script(data, numbering)
    count = len(script.messages())
    run(script, list(range(count)), late_join=data.draw(st.integers(0, count), label="late viewer joins before step"))


# --- explicit examples ----------------------------------------------------------------------


def pasting_script(numbering: Numbering) -> Script:
    """A 100 KB paste, edits around and inside it, two changes in one event, then a delete."""
    script = Script(numbering)
    text = ""
    for edits in (
        [Edit(0, 0, "# top 😀\r\n")],
        [Edit(9, 9, PASTE)],
        [Edit(0, 1, "//"), Edit(50_000, 50_002, "👍🏽"), Edit(len(PASTE), len(PASTE), "\r\nend")],
        [Edit(3, 60_000, "")],
    ):
        script.events.append((text, edits))
        text = apply_event(text, edits)
    script.batches = [1, 2, 1]
    script.full_after = 2
    return script


def test_hundred_kilobyte_paste_in_order() -> None:
    for numbering in ("native", "tutorial"):
        script = pasting_script(numbering)
        assert len(script.events[1][1][0].text) == 93_000 and len(PASTE.encode()) == 105_000
        run(script, [0, 1, 2, 3])


def test_hundred_kilobyte_paste_shuffled_and_duplicated() -> None:
    for numbering in ("native", "tutorial"):
        script = pasting_script(numbering)  # sent: d, d, full, d
        run(script, [0, 3, 3, 2, 1, 0, 2, 1], late_join=2)


def test_script_messages_follow_each_numbering() -> None:
    script = Script("tutorial", [("", [Edit(0, 0, "ab")]), ("ab", [Edit(2, 2, "😀")])], [1, 1], full_after=1)
    sent = script.messages()
    assert [(m["type"], m["version"]) for m in sent] == [("delta", 0), ("full", 1), ("delta", 1)]
    assert sent[1]["content"] == "ab"
    assert sent[2]["changes"][0]["changes"][0]["rangeOffset"] == 2
    native = Script("native", script.events, script.batches, full_after=1)
    assert [(m["type"], m["version"]) for m in native.messages()] == [("delta", 1), ("full", 1), ("delta", 2)]
    assert script.final_text() == "ab😀"


def test_monaco_event_offsets_are_utf16() -> None:
    text = "a😀\nb😀c"
    event = monaco_event(text, [Edit(5, 6, "X")], version_id=3)  # replaces "c"
    assert event["changes"] == [
        {
            "range": {"startLineNumber": 2, "startColumn": 4, "endLineNumber": 2, "endColumn": 5},
            "rangeLength": 1,
            "text": "X",
            "rangeOffset": 7,
        }
    ]
    assert apply_event(text, [Edit(5, 6, "X")]) == "a😀\nb😀X"
