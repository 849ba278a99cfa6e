"""The browser's replay (static_site/src/replay.js) rebuilds the same text as the core's
`shared.history.text_at` at every version of random streams: emoji, CRLF, pastes, fulls,
language changes, cursors and markers, read in any order and across its own checkpoints."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

from shared.document import Change, Document
from shared.history import EMPTY, Entry, text_at

from .node import node

DRIVER = Path(__file__).with_name("replay_driver.mjs")
PIECES = ["a", "é", "😀", "\r\n", "\n", "\t", "def f():\r\n    return 1\r\n", "👩‍💻", "x" * 40]
LANGUAGES = ["python", "javascript", "rust", "plaintext"]


def boundaries(text: str) -> list[int]:
    """The UTF-16 offsets in `text` that do not split a surrogate pair."""
    offsets, unit = [0], 0
    for char in text:
        unit += 2 if ord(char) > 0xFFFF else 1
        offsets.append(unit)
    return offsets


def random_event(rng: random.Random, text: str) -> list[Change]:
    """One Monaco change event: up to three changes, none overlapping, on the text before it."""
    cuts = sorted(rng.sample(boundaries(text), min(len(boundaries(text)), 2 * rng.randint(1, 3))))
    changes = []
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        inserted = "".join(rng.choice(PIECES) for _ in range(rng.choice([0, 1, 1, 2, 30])))  # 30: a paste
        changes.append(Change(start, rng.choice([0, end - start]), inserted))
    if not changes:
        changes.append(Change(0, 0, rng.choice(PIECES)))
    rng.shuffle(changes)  # Monaco does not promise an order
    return changes


def random_stream(rng: random.Random, length: int) -> list[Entry]:
    document, version, at, entries = Document(), 0, 1_700_000_000.0, []
    for _ in range(length):
        at += rng.choice([0.0, 0.01, 0.2, 3.0, 400.0])
        roll = rng.random()
        message: dict[str, Any]
        if roll < 0.6:
            wire = []
            for _ in range(rng.choice([1, 1, 2])):  # each event on the text the one before made
                event = random_event(rng, document.text())
                document.apply([event])
                changes = [{"rangeOffset": c.offset, "rangeLength": c.length, "text": c.text} for c in event]
                wire.append({"changes": changes})
            version += 1
            message = {"type": "delta", "version": version, "changes": wire}
        elif roll < 0.7:
            version += rng.choice([0, 1, 3])  # a full may jump over versions
            content = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 20)))
            document = Document(content)
            message = {"type": "full", "version": version, "content": content, "numbering": "native"}
            if rng.random() < 0.5:
                message["language"] = rng.choice(LANGUAGES)
        elif roll < 0.8:
            message = {"type": "language", "language": rng.choice(LANGUAGES)}
        elif roll < 0.93:
            offsets = boundaries(document.text())
            message = {
                "type": "cursor",
                "version": version,
                "selections": [{"anchor": rng.choice(offsets), "head": rng.choice(offsets)}],
            }
        else:
            message = {"type": "marker", "version": version, "label": rng.choice(["start", "tests", "é😀"])}
        entries.append(Entry(version, at, message))
    return entries


def typing_cursor(version: int, changes: list[dict[str, Any]]) -> dict[str, Any]:
    """Carets after each change's new text, in the text after the event (lower offsets first)."""
    shift, selections = 0, []
    for change in sorted(changes, key=lambda c: c["rangeOffset"]):
        inserted = sum(2 if ord(ch) > 0xFFFF else 1 for ch in change["text"])
        head = change["rangeOffset"] + shift + inserted
        shift += inserted - change["rangeLength"]
        selections.append({"anchor": head, "head": head})
    return {"type": "cursor", "version": version, "selections": selections}


def last_cursor(entries: list[Entry], version: int | None) -> dict[str, Any] | None:
    """The writer's last cursor entry, or where its last delta left the carets when that came later."""
    cursor = None
    for entry in entries:
        if version is not None and entry.version > version:
            break
        if entry.message["type"] == "cursor":
            cursor = dict(entry.message)
        elif entry.message["type"] == "delta":
            cursor = typing_cursor(entry.version, entry.message["changes"][-1]["changes"])
    return cursor


def test_the_client_replay_rebuilds_the_cores_text() -> None:
    rng = random.Random(20261201)
    cases, expected = [], []
    for _ in range(60):
        entries = random_stream(rng, rng.choice([0, 1, 5, 40, 200]))
        top = entries[-1].version if entries else 0
        versions: list[int | None] = [*range(top + 2), None]
        rng.shuffle(versions)  # seeks back and forth, across checkpoints
        chunks, left = [], len(entries)
        while left:
            chunks.append(rng.randint(1, left))
            left -= chunks[-1]
        cases.append(
            {
                "entries": [{"version": e.version, "at": e.at, "message": e.message} for e in entries],
                "chunks": chunks,
                "policy": {
                    "everyDeltas": rng.choice([1, 3, 200]),
                    "everyUnits": rng.choice([50, 65536]),
                    "pieceUnits": rng.choice([1, 2, 7, 64, 4096]),
                },
                "versions": versions,
            }
        )
        texts = []
        for version in versions:
            snapshot = text_at(EMPTY, entries, version)
            texts.append(
                {
                    "version": snapshot.version,
                    "at": snapshot.at,
                    "content": snapshot.content,
                    "language": snapshot.language,
                }
            )
        expected.append({"texts": texts, "cursors": [last_cursor(entries, v) for v in versions]})
    result = subprocess.run(
        [node(), str(DRIVER)], input=json.dumps(cases), capture_output=True, text=True, timeout=120, check=True
    )
    got = json.loads(result.stdout)
    for case, mine, want in zip(cases, got, expected, strict=True):
        assert mine["texts"] == want["texts"], case["policy"]
        assert mine["cursors"] == want["cursors"]
    # The streams are not all easy: long texts with emoji and CRLF, several checkpoints, languages.
    contents = [t["content"] for e in expected for t in e["texts"]]
    assert any("😀" in c and "\r\n" in c and len(c) > 200 for c in contents)
    assert any(g["checkpoints"] > 10 for g in got)
    assert len({t["language"] for e in expected for t in e["texts"]}) > 3
