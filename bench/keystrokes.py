"""A writer's typing, scripted: steady keys, fast bursts, thinking pauses, pastes.

The script is made from a seed so every run (and both pacing policies) types the same
thing at the same moments. Text is ASCII, so UTF-16 offsets equal string indices and the
viewers can apply edits with plain slicing.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

_WORDS = ["def", "return", "self", "value", "items", "for", "in", "if", "else", "print", "result", "x", "i"]


@dataclass(frozen=True, slots=True)
class Keystroke:
    at: float  # seconds after the start of the script
    offset: int
    length: int  # units removed at offset (backspace: 1)
    text: str  # inserted (a key, a newline, or a pasted block)


def script(duration: float, rate: float, seed: int, start_text: str = "") -> list[Keystroke]:
    """`rate * duration` edits spread over `duration` seconds, shaped like real typing."""
    rng = random.Random(seed)
    count = max(1, round(rate * duration))
    times = _times(rng, count)
    scale = duration / times[-1] if times[-1] > 0 else 1.0
    strokes, length = [], len(start_text)
    cursor = length
    for at in times:
        offset, removed, text = _edit(rng, cursor, length)
        strokes.append(Keystroke(at * scale, offset, removed, text))
        length += len(text) - removed
        cursor = offset + len(text)
    return strokes


def _times(rng: random.Random, count: int) -> list[float]:
    times, now, burst = [], 0.0, 0
    while len(times) < count:
        if burst:
            burst -= 1
            now += rng.uniform(0.008, 0.02)  # a fast run of keys
        elif rng.random() < 0.04:
            burst = rng.randint(6, 15)
            now += rng.uniform(0.04, 0.1)
        elif rng.random() < 0.03:
            now += rng.uniform(0.4, 0.9)  # thinking
        else:
            now += rng.uniform(0.04, 0.11)
        times.append(now)
    return times


def _edit(rng: random.Random, cursor: int, length: int) -> tuple[int, int, str]:
    roll = rng.random()
    if roll < 0.01:  # a paste, somewhere in the text
        return rng.randint(0, length), 0, pasted_block(rng)
    if roll < 0.10 and cursor > 0:  # backspace
        return cursor - 1, 1, ""
    if roll < 0.15:
        return cursor, 0, "\n"
    if roll < 0.17:  # the writer clicks elsewhere and types there
        return rng.randint(0, length), 0, rng.choice(string.ascii_lowercase)
    return cursor, 0, rng.choice(string.ascii_lowercase + "  ()=:")


def pasted_block(rng: random.Random) -> str:
    lines = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 9))) for _ in range(rng.randint(10, 60))]
    return "\n".join(lines) + "\n"


def apply(text: str, stroke: Keystroke) -> str:
    return text[: stroke.offset] + stroke.text + text[stroke.offset + stroke.length :]


def monaco_event(stroke: Keystroke, version_id: int) -> dict[str, Any]:
    """The IModelContentChangedEvent a browser writer would send for this keystroke."""
    change = {
        "rangeOffset": stroke.offset,
        "rangeLength": stroke.length,
        "text": stroke.text,
        "range": {"startLineNumber": 1, "startColumn": 1, "endLineNumber": 1, "endColumn": 1},
    }
    return {
        "changes": [change],
        "eol": "\n",
        "versionId": version_id,
        "isUndoing": False,
        "isRedoing": False,
        "isFlush": False,
    }
