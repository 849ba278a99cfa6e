"""VersionTracker: apply, drop duplicates, hold gaps, stale fulls, gap age, and numbering inference."""

from __future__ import annotations

import pytest

from shared.versions import Outcome, VersionTracker

APPLIED, DUPLICATE, HELD, STALE = Outcome.APPLIED, Outcome.DUPLICATE, Outcome.HELD, Outcome.STALE


class Log:
    """The tracker's `apply`: records what was applied, optionally refusing one delta."""

    def __init__(self, refuse: str | None = None) -> None:
        self.applied: list[str] = []
        self.refuse = refuse

    def __call__(self, delta: str) -> None:
        if delta == self.refuse:
            raise ValueError(delta)
        self.applied.append(delta)


def feed(t: VersionTracker[str], log: Log, *sent: int, now: float = 0.0) -> list[Outcome]:
    return [t.on_delta(s, f"d{s}", log, now) for s in sent]


def test_fresh_tracker() -> None:
    t: VersionTracker[str] = VersionTracker()
    assert (t.version, t.numbering, t.held, t.gap_since) == (None, None, {}, None)
    assert not t.has_base() and not t.is_current()
    assert t.gap_age(5.0) == 0.0
    assert t.native(3) is None
    assert t.accepts_full(0)


# --- native numbering -------------------------------------------------------------------


def test_native_in_order() -> None:
    t, log = VersionTracker[str](), Log()
    assert feed(t, log, 1, 2, 3) == [APPLIED] * 3
    assert (t.numbering, t.version, log.applied) == ("native", 3, ["d1", "d2", "d3"])
    assert t.is_current() and t.native(7) == 7


def test_native_duplicates_are_dropped() -> None:
    t, log = VersionTracker[str](), Log()
    assert feed(t, log, 1, 2, 1, 2, 3, 3) == [APPLIED, APPLIED, DUPLICATE, DUPLICATE, APPLIED, DUPLICATE]
    assert (t.version, log.applied) == (3, ["d1", "d2", "d3"])


def test_native_gap_is_held_until_it_fills() -> None:
    t, log = VersionTracker[str](), Log()
    assert feed(t, log, 1, 4, 3, now=10.0) == [APPLIED, HELD, HELD]
    assert (t.version, sorted(t.held), log.applied) == (1, [3, 4], ["d1"])
    assert not t.is_current() and t.has_base()
    assert feed(t, log, 2, now=11.0) == [APPLIED]
    assert (t.version, t.held, log.applied) == (4, {}, ["d1", "d2", "d3", "d4"])
    assert t.gap_since is None and t.is_current()


def test_held_duplicate_keeps_the_first_copy() -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, 1)
    assert t.on_delta(3, "first", log, 0.0) is HELD
    assert t.on_delta(3, "second", log, 0.0) is HELD
    feed(t, log, 2)
    assert log.applied == ["d1", "d2", "first"]


def test_native_start_out_of_order() -> None:
    t, log = VersionTracker[str](), Log()
    assert feed(t, log, 3, 2) == [HELD, HELD]
    assert (t.version, t.numbering) == (None, None)  # 2 and 3 say nothing about the numbering
    assert feed(t, log, 1) == [APPLIED]
    assert (t.numbering, t.version, log.applied) == ("native", 3, ["d1", "d2", "d3"])


# --- gap age ----------------------------------------------------------------------------


def test_gap_age_runs_from_the_first_hold() -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, 1, now=0.0)
    assert t.gap_age(100.0) == 0.0
    feed(t, log, 3, now=2.0)
    feed(t, log, 5, now=3.0)  # a later hold does not restart the clock
    feed(t, log, 3, now=4.0)  # nor a held duplicate
    assert t.gap_since == 2.0
    assert t.gap_age(2.75) == 0.75
    feed(t, log, 2, now=5.0)  # 2 and 3 apply, 5 still waits for 4
    assert (t.version, sorted(t.held)) == (3, [5])
    assert t.gap_since == 2.0  # the gap before 5 is as old as the first one seen
    feed(t, log, 4, now=6.0)
    assert (t.gap_since, t.gap_age(9.0), t.version) == (None, 0.0, 5)


def test_gap_age_without_a_base() -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, 7, now=1.0)
    assert t.gap_age(1.5) == 0.5


def test_reset_forgets_held_deltas_but_keeps_the_version() -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, 1, 3, 4, now=1.0)
    t.reset()
    assert (t.version, t.numbering, t.held, t.gap_since) == (1, "native", {}, None)


def test_refused_apply_keeps_the_version() -> None:
    t, log = VersionTracker[str](), Log(refuse="d2")
    feed(t, log, 1)
    with pytest.raises(ValueError):
        t.on_delta(2, "d2", log, 0.0)
    assert (t.version, log.applied) == (1, ["d1"])


def test_refused_held_delta_stops_the_drain_where_it_was() -> None:
    t, log = VersionTracker[str](), Log(refuse="d3")
    feed(t, log, 1, 3, 4)
    with pytest.raises(ValueError):
        feed(t, log, 2)
    assert (t.version, log.applied) == (2, ["d1", "d2"])  # 3 was taken out, 4 still waits


# --- tutorial numbering -----------------------------------------------------------------


def test_tutorial_numbers_from_zero() -> None:
    t, log = VersionTracker[str](), Log()
    assert feed(t, log, 0, 1, 2) == [APPLIED] * 3
    assert (t.numbering, t.version, log.applied) == ("tutorial", 3, ["d0", "d1", "d2"])
    assert t.native(2) == 3


def test_tutorial_duplicates_and_gaps() -> None:
    t, log = VersionTracker[str](), Log()
    assert feed(t, log, 0, 0, 2, 1, 2, 1) == [APPLIED, DUPLICATE, HELD, APPLIED, DUPLICATE, DUPLICATE]
    assert (t.version, log.applied) == (3, ["d0", "d1", "d2"])


def test_tutorial_start_out_of_order_once_zero_arrives() -> None:
    t, log = VersionTracker[str](), Log()
    assert feed(t, log, 3, 2) == [HELD, HELD]
    assert feed(t, log, 0) == [APPLIED]
    assert (t.numbering, t.version, sorted(t.held)) == ("tutorial", 1, [2, 3])
    assert feed(t, log, 1) == [APPLIED]
    assert (t.version, log.applied) == (4, ["d0", "d1", "d2", "d3"])


def test_tutorial_full_means_the_next_delta_number() -> None:
    # The tutorial writer sent 0, 1, 2 and answers `sync` with {full, version: 3}.
    t, log = VersionTracker[str](), Log()
    feed(t, log, 0, 1, 2)
    assert t.on_full(3, log) is APPLIED
    assert t.version == 3
    assert feed(t, log, 3, 2) == [APPLIED, DUPLICATE]
    assert (t.version, log.applied) == (4, ["d0", "d1", "d2", "d3"])


def test_tutorial_full_mid_stream_with_held_deltas() -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, 0, 3, 4, 5)  # 1 and 2 lost; 3.. wait
    assert t.on_full(4, log) is APPLIED  # the text as of before delta 4
    assert (t.version, t.held, log.applied) == (6, {}, ["d0", "d4", "d5"])


def test_native_full_means_the_version_of_its_content() -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, 1, 2, 3)
    assert t.on_full(3, log) is APPLIED
    assert feed(t, log, 3, 4) == [DUPLICATE, APPLIED]
    assert (t.version, log.applied) == (4, ["d1", "d2", "d3", "d4"])


def test_native_full_mid_stream_with_held_deltas() -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, 1, 4, 5, 6)
    assert t.on_full(5, log) is APPLIED  # includes 2..5: 4 and 5 are old, 6 applies
    assert (t.version, t.held, log.applied) == (6, {}, ["d1", "d6"])


# --- stale fulls ------------------------------------------------------------------------


@pytest.mark.parametrize("first", [0, 1])
def test_full_older_than_the_text_is_stale(first: int) -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, *range(first, first + 4))
    assert t.version == 4
    assert not t.accepts_full(3)
    assert t.on_full(3, log) is STALE
    assert t.version == 4
    assert t.accepts_full(4) and t.accepts_full(9)
    assert t.on_full(9, log) is APPLIED
    assert t.version == 9


def test_stale_full_leaves_held_deltas() -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, 1, 2, 5, now=3.0)
    assert t.on_full(1, log) is STALE
    assert (sorted(t.held), t.gap_since) == ([5], 3.0)


def test_full_then_older_duplicate_deltas() -> None:
    t, log = VersionTracker[str](), Log()
    assert t.on_full(10, log) is APPLIED
    assert t.has_base() and t.is_current()
    feed(t, log, 11)  # native after full 10
    assert feed(t, log, 3, 10, 11) == [DUPLICATE] * 3


# --- inference --------------------------------------------------------------------------


def test_empty_text_and_delta_one_is_native() -> None:
    t, log = VersionTracker[str](), Log()
    assert feed(t, log, 1) == [APPLIED]
    assert (t.numbering, t.version) == ("native", 1)


def test_delta_zero_is_tutorial_even_after_a_full() -> None:
    t, log = VersionTracker[str](), Log()
    t.on_full(0, log)
    assert feed(t, log, 0) == [APPLIED]
    assert (t.numbering, t.version) == ("tutorial", 1)


@pytest.mark.parametrize(("sent", "numbering", "version"), [(5, "tutorial", 6), (6, "native", 6)])
def test_right_after_full_k(sent: int, numbering: str, version: int) -> None:
    t, log = VersionTracker[str](), Log()
    t.on_full(5, log)
    assert t.numbering is None
    assert feed(t, log, sent) == [APPLIED]
    assert (t.numbering, t.version, log.applied) == (numbering, version, [f"d{sent}"])


def test_after_full_k_a_later_delta_waits_and_decides_nothing() -> None:
    t, log = VersionTracker[str](), Log()
    t.on_full(5, log)
    assert feed(t, log, 7, now=2.0) == [HELD]
    assert (t.numbering, t.version, t.gap_since) == (None, 5, 2.0)
    assert feed(t, log, 6) == [APPLIED]  # native: 6 then 7
    assert (t.numbering, t.version, log.applied) == ("native", 7, ["d6", "d7"])


def test_after_full_k_an_older_delta_is_held_not_applied() -> None:
    t, log = VersionTracker[str](), Log()
    t.on_full(5, log)
    assert feed(t, log, 3) == [HELD]  # the numbering is unknown, so is the meaning of 3
    assert feed(t, log, 5) == [APPLIED]  # tutorial: 3 is old and dropped
    assert (t.numbering, t.version, t.held, log.applied) == ("tutorial", 6, {}, ["d5"])


@pytest.mark.parametrize(
    ("held", "numbering", "version", "applied", "left"),
    [
        # held k arrived before full k, so was sent before it: a native delta inside the full
        ([4, 5], "native", 5, [], []),
        ([5, 6], "native", 6, ["d6"], []),
        ([6, 7], "native", 7, ["d6", "d7"], []),  # held k + 1: native's next delta
        ([7], None, 5, [], [7]),  # nothing decides yet
        ([2, 3], None, 5, [], []),  # old under either numbering: dropped
    ],
)
def test_full_k_with_held_deltas(
    held: list[int], numbering: str | None, version: int, applied: list[str], left: list[int]
) -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, *held)
    assert t.version is None
    assert t.on_full(5, log) is APPLIED
    assert (t.numbering, t.version, log.applied, sorted(t.held)) == (numbering, version, applied, left)


def test_numbering_once_known_is_kept_across_fulls() -> None:
    t, log = VersionTracker[str](), Log()
    feed(t, log, 0, 1)
    t.on_full(2, log)
    assert feed(t, log, 3) == [HELD]  # tutorial: 2 comes first
    feed(t, log, 2)
    assert (t.numbering, t.version, log.applied) == ("tutorial", 4, ["d0", "d1", "d2", "d3"])


def test_writer_sequences_converge_under_both_numberings() -> None:
    """Both writers' streams, with a full after the second delta, end at the same version."""
    for first in (0, 1):
        t, log = VersionTracker[str](), Log()
        sent = [first, first + 1]
        feed(t, log, *sent)
        t.on_full(2, log)  # native: 2 deltas seen; tutorial: next is 2
        nxt = 2 if first == 0 else 3
        feed(t, log, nxt, nxt + 1)
        assert t.version == 4
        assert log.applied == [f"d{s}" for s in [*sent, nxt, nxt + 1]]


def test_sync_recovery_of_a_resumed_native_writer() -> None:
    """A room that forgot its text holds the writer's delta 58, asks, and gets full 58 (which has it)."""
    t, log = VersionTracker[str](), Log()
    assert feed(t, log, 58) == [HELD]
    assert t.on_full(58, log) is APPLIED
    assert (t.numbering, t.version, t.held, log.applied) == ("native", 58, {}, [])
    assert feed(t, log, 59) == [APPLIED]
    assert (t.version, log.applied) == (59, ["d59"])


def test_sync_recovery_of_a_tutorial_writer() -> None:
    """The tutorial writer's held delta 30 is inside its full 31; its next delta is 31."""
    t, log = VersionTracker[str](), Log()
    feed(t, log, 30)
    assert t.on_full(31, log) is APPLIED
    assert (t.numbering, t.version, t.held) == (None, 31, {})
    assert feed(t, log, 31) == [APPLIED]
    assert (t.numbering, t.version, log.applied) == ("tutorial", 32, ["d31"])


@pytest.mark.parametrize("sent", [0, 1])
def test_refused_first_delta_decides_neither_numbering_nor_base(sent: int) -> None:
    t, log = VersionTracker[str](), Log(refuse=f"d{sent}")
    with pytest.raises(ValueError):
        feed(t, log, sent)
    assert (t.numbering, t.version) == (None, None)
    log.refuse = None
    assert feed(t, log, 1 - sent) == [APPLIED]  # the other writer's first delta still decides freely
    assert t.numbering == ("tutorial" if sent == 1 else "native")


def test_refused_delta_after_a_full_keeps_the_numbering_open() -> None:
    t, log = VersionTracker[str](), Log(refuse="d6")
    t.on_full(5, log)
    with pytest.raises(ValueError):
        feed(t, log, 6)
    assert (t.numbering, t.version) == (None, 5)


# --- a full that says its numbering ---------------------------------------------------------


def test_full_saying_tutorial_settles_what_inference_would_get_wrong() -> None:
    # Delta k+1 overtook delta k after full k: inference would take k+1 as native.
    t: VersionTracker[str] = VersionTracker()
    log = Log()
    assert t.on_full(5, log, "tutorial") is APPLIED
    assert feed(t, log, 6, 5) == [HELD, APPLIED]
    assert log.applied == ["d5", "d6"] and t.version == 7


def test_full_saying_native_keeps_a_late_duplicate_out() -> None:
    # A native delta k that the full k overtook: inference would apply it as tutorial.
    t: VersionTracker[str] = VersionTracker()
    log = Log()
    t.on_full(5, log, "native")
    assert feed(t, log, 5, 6) == [DUPLICATE, APPLIED]
    assert log.applied == ["d6"] and t.version == 6
