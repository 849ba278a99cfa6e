"""RateLimiter: a token bucket per socket, driven by an injected clock."""

from __future__ import annotations

from shared.limits import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_up_to_the_rate_then_refuse() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock)
    assert [limiter.allow("a") for _ in range(5)] == [True, True, True, False, False]


def test_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(4, clock)
    for _ in range(4):
        assert limiter.allow("a")
    assert not limiter.allow("a")
    clock.now += 0.2  # 0.8 of a token
    assert not limiter.allow("a")
    clock.now += 0.05  # 1.0
    assert limiter.allow("a")
    assert not limiter.allow("a")


def test_steady_rate_is_allowed_forever() -> None:
    clock = Clock()
    limiter = RateLimiter(10, clock)
    results = []
    for _ in range(100):
        results.append(limiter.allow("a"))
        clock.now += 0.1
    assert all(results)


def test_idle_time_does_not_bank_more_than_one_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock)
    limiter.allow("a")
    clock.now += 3600
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]


def test_keys_are_independent_and_forget_resets() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock)
    assert limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")
    limiter.forget("a")
    limiter.forget("never-seen")
    assert limiter.allow("a")
    assert not limiter.allow("b")
