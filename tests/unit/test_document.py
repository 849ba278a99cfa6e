"""Document: Monaco's UTF-16 offsets, event order, surrogates, atomicity and the size limit."""

from __future__ import annotations

import pytest

from shared.document import Change, Document, DocumentError, DocumentTooLarge, encode, utf16_length

EMOJI = "😀"  # U+1F600: two UTF-16 units
HIGH, LOW = "\ud83d", "\ude00"


def doc(text: str = "", limit: int | None = None) -> Document:
    return Document(text, max_units=limit)


def refused(d: Document, events: list[list[Change]], error: type[DocumentError] = DocumentError) -> str:
    before = d.text()
    with pytest.raises(error) as caught:
        d.apply(events)
    assert d.text() == before  # atomic: nothing of the refused edit remains
    assert len(d) == utf16_length(before)
    return str(caught.value)


def test_empty() -> None:
    d = doc()
    assert (d.text(), len(d)) == ("", 0)


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("") == 0
    assert utf16_length("abc") == 3
    assert utf16_length("é中") == 2  # BMP: one unit each
    assert utf16_length(EMOJI) == 2
    assert utf16_length("a" + EMOJI + "b👍🏽") == 1 + 2 + 1 + 2 + 2
    assert len(doc("x" + EMOJI)) == 3


def test_encode_is_utf16_le_and_refuses_lone_halves() -> None:
    assert encode("a" + EMOJI) == b"a\x00" + b"\x3d\xd8\x00\xde"
    for lone in (HIGH, LOW, "a" + LOW + HIGH, HIGH + "a" + LOW):
        with pytest.raises(DocumentError, match="lone UTF-16 surrogate"):
            encode(lone)


def test_insert_delete_replace() -> None:
    d = doc("hello world")
    d.apply([[Change(5, 0, ",")]])
    assert d.text() == "hello, world"
    d.apply([[Change(0, 7, "")]])
    assert d.text() == "world"
    d.apply([[Change(0, 1, "W")], [Change(5, 0, "!")]])
    assert d.text() == "World!"


def test_offsets_after_an_emoji_count_two() -> None:
    d = doc(EMOJI + "ab")
    d.apply([[Change(2, 1, "X")]])  # offset 2 is just after the emoji
    assert d.text() == EMOJI + "Xb"
    d.apply([[Change(0, 2, "")]])  # the emoji is 2 units long
    assert d.text() == "Xb"


def test_insert_emoji_then_edit_after_it() -> None:
    d = doc("ab")
    d.apply([[Change(1, 0, EMOJI)], [Change(3, 1, "B")]])
    assert d.text() == "a" + EMOJI + "B"
    assert len(d) == 4


def test_changes_inside_one_event_refer_to_the_text_before_it() -> None:
    # Monaco lists multi-cursor changes against the pre-event text; any order in the list.
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
        changes = [Change(0, 1, "AA"), Change(2, 1, "CCC"), Change(4, 0, "!")]
        d = doc("abcd")
        d.apply([[changes[i] for i in order]])
        assert d.text() == "AAbCCCd!"


def test_events_apply_in_order_each_against_the_previous_result() -> None:
    d = doc("abc")
    d.apply([[Change(3, 0, "d")], [Change(3, 1, "D")], [Change(0, 4, "")]])
    assert d.text() == ""


def test_adjacent_changes_in_one_event() -> None:
    d = doc("abcdef")
    d.apply([[Change(0, 2, "X"), Change(2, 2, "Y"), Change(4, 2, "Z")]])
    assert d.text() == "XYZ"
    d = doc("abc")
    d.apply([[Change(0, 1, "X"), Change(1, 0, "+")]])  # an insert right after a replaced range
    assert d.text() == "X+bc"


def test_crlf_is_kept_as_sent() -> None:
    d = doc("a\r\nb")
    d.apply([[Change(3, 0, "\r\n\r\nc")]])
    assert d.text() == "a\r\n\r\n\r\ncb"
    d.apply([[Change(1, 1, "")]])  # delete only the \r: Monaco would not, but the text is the sender's
    assert d.text() == "a\n\r\n\r\ncb"
    assert doc("x\ry\n").text() == "x\ry\n"


def test_insert_at_end_and_whole_replace() -> None:
    d = doc("abc")
    d.apply([[Change(3, 0, "def")]])
    d.apply([[Change(0, 6, "new")]])
    assert d.text() == "new"


def test_empty_event_list_and_empty_event_change_nothing() -> None:
    d = doc("abc")
    d.apply([])
    d.apply([[]])
    assert d.text() == "abc"


def test_replace_all() -> None:
    d = doc("abc")
    d.replace_all("x" + EMOJI)
    assert (d.text(), len(d)) == ("x" + EMOJI, 3)


# --- refusals --------------------------------------------------------------------------


def test_past_the_end_is_refused() -> None:
    d = doc("abc")
    assert refused(d, [[Change(4, 0, "x")]]) == "change at 4+0 is past the end (3)"
    refused(d, [[Change(2, 2, "")]])
    refused(d, [[Change(0, 0, "x")], [Change(0, 5, "")]])  # past the end of the first event's result


def test_negative_offset_or_length_is_refused() -> None:
    d = doc("abc")
    refused(d, [[Change(-1, 0, "x")]])
    refused(d, [[Change(2, -1, "x")]])
    refused(d, [[Change(-3, 3, "")]])


def test_overlapping_changes_in_one_event_are_refused() -> None:
    d = doc("abcdef")
    assert refused(d, [[Change(0, 3, "x"), Change(2, 2, "y")]]) == "changes overlap at offset 0"
    refused(d, [[Change(1, 0, "x"), Change(0, 3, "y")]])


@pytest.mark.parametrize("text", [HIGH, LOW, "a" + HIGH, LOW + "b", HIGH + HIGH, LOW + HIGH])
def test_inserted_lone_surrogate_is_refused(text: str) -> None:
    d = doc("ab" + EMOJI)
    assert "lone UTF-16 surrogate" in refused(d, [[Change(1, 0, text)]])


def test_two_halves_sent_in_two_changes_are_refused() -> None:
    # JavaScript could send the halves apart; they never join into a pair here.
    d = doc("ab")
    refused(d, [[Change(1, 0, HIGH), Change(2, 0, LOW)]])
    refused(d, [[Change(1, 0, HIGH)], [Change(2, 0, LOW)]])


@pytest.mark.parametrize(
    "change",
    [
        Change(2, 0, "x"),  # insert between the halves
        Change(2, 1, ""),  # delete the low half
        Change(1, 1, ""),  # delete the high half
        Change(0, 2, ""),  # a range ending inside the pair
        Change(2, 2, "y"),  # a range starting inside the pair
        Change(2, 0, ""),  # even an empty change there
    ],
)
def test_offset_splitting_a_pair_is_refused(change: Change) -> None:
    d = doc("a" + EMOJI + "b")  # units: a, high, low, b
    assert "splits a surrogate pair" in refused(d, [[change]])


def test_offset_split_in_a_later_event_rolls_back_earlier_events() -> None:
    d = doc("abc")
    refused(d, [[Change(0, 0, EMOJI)], [Change(1, 0, "x")]])
    assert d.text() == "abc"


def test_failing_event_leaves_every_earlier_event_undone() -> None:
    d = doc("0123456789")
    events = [
        [Change(0, 1, "A"), Change(5, 2, "")],
        [Change(8, 0, "tail"), Change(0, 0, "head")],
        [Change(3, 0, EMOJI)],
        [Change(1, 0, HIGH)],  # refused last
    ]
    refused(d, events)
    assert d.text() == "0123456789"
    d.apply(events[:3])
    assert d.text() == "hea" + EMOJI + "dA1234789tail"


def test_failing_change_inside_an_event_undoes_the_changes_before_it() -> None:
    d = doc("abcdef")
    refused(d, [[Change(5, 1, "F"), Change(3, 0, "x"), Change(1, 9, "")]])
    refused(d, [[Change(5, 1, "F"), Change(0, 0, LOW)]])


# --- size limit ------------------------------------------------------------------------


def test_size_limit_on_creation_and_replace_all() -> None:
    assert len(doc("abcd", limit=4)) == 4
    with pytest.raises(DocumentTooLarge, match="document of 5 UTF-16 units exceeds the limit of 4"):
        doc("abcde", limit=4)
    d = doc("ab", limit=4)
    with pytest.raises(DocumentTooLarge):
        d.replace_all(EMOJI * 3)  # 3 characters, 6 units
    assert d.text() == "ab"


def test_size_limit_counts_utf16_units() -> None:
    d = doc("", limit=4)
    d.apply([[Change(0, 0, EMOJI * 2)]])
    assert len(d) == 4
    assert "exceeds the limit of 4" in refused(d, [[Change(4, 0, "x")]], DocumentTooLarge)


def test_size_limit_is_judged_after_the_whole_delta() -> None:
    d = doc("abc", limit=4)
    d.apply([[Change(3, 0, "xy")], [Change(0, 2, "")]])  # 5 units in between, 3 at the end
    assert d.text() == "cxy"
    refused(d, [[Change(0, 0, "123")], [Change(0, 1, "")]], DocumentTooLarge)  # 5 at the end
    assert d.text() == "cxy"


def test_hundred_kilobyte_paste_and_delete() -> None:
    paste = ("line: " + EMOJI + "\r\n") * 10_000  # 90,000 characters, 100,000 units
    d = doc("<>")
    d.apply([[Change(1, 0, paste)]])
    assert d.text() == "<" + paste + ">"
    assert len(d) == 100_002
    d.apply([[Change(1, 100_000, "")]])
    assert d.text() == "<>"
