"""The bench's viewers share identical work (bench/viewers.py Memo) without sharing a wrong answer."""

from __future__ import annotations

import json

from bench.viewers import Memo, Stats, Viewer


def _message(data: dict) -> str:
    return "42" + json.dumps(["message", {"type": "editorMessage", "data": data}], separators=(",", ":"))


def _delta(version: int, offset: int, text: str) -> str:
    change = {"rangeOffset": offset, "rangeLength": 0, "text": text}
    return _message({"type": "delta", "version": version, "changes": [{"changes": [change]}], "t": [0.0], "s": 0.0})


def _full(version: int, content: str) -> str:
    return _message({"type": "full", "version": version, "content": content})


async def test_viewers_of_one_process_share_a_delta_applied_to_the_same_text() -> None:
    memo = Memo()
    a, b = Viewer(Stats(), memo), Viewer(Stats(), memo)
    for viewer in (a, b):
        viewer.on_message(_full(0, "ab"))
        viewer.on_message(_delta(1, 1, "X"))
    assert a.text == b.text == "aXb" and a.version == b.version == 1
    assert a.text is b.text  # computed once


async def test_a_viewer_with_another_base_computes_its_own_text() -> None:
    memo = Memo()
    a, b = Viewer(Stats(), memo), Viewer(Stats(), memo)
    a.on_message(_full(0, "ab"))
    b.on_message(_full(0, "cd"))  # same version, other text: the same delta bytes must not reuse a's result
    delta = _delta(1, 1, "X")
    a.on_message(delta)
    b.on_message(delta)
    assert (a.text, b.text) == ("aXb", "cXd")


async def test_the_memo_stays_bounded() -> None:
    memo = Memo(size=4)
    viewer = Viewer(Stats(), memo)
    viewer.on_message(_full(0, ""))
    for version in range(1, 50):
        viewer.on_message(_delta(version, version - 1, "x"))
    assert viewer.text == "x" * 49
    assert len(memo.parsed) <= 4 and len(memo.applied) <= 4
