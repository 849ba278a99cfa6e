"""`python -m bench --rounds`: N:R pairs, or a clear error."""

from __future__ import annotations

import pytest

from bench.run import parse_args


def test_rounds_by_n() -> None:
    assert parse_args([]).rounds == {500: 3}
    assert parse_args(["--rounds", "500:5,1000:2"]).rounds == {500: 5, 1000: 2}
    assert parse_args(["--rounds", ""]).rounds == {}


@pytest.mark.parametrize("bad", ["500", "500:x", "500:0"])
def test_bad_rounds_are_refused(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--rounds", bad])
    assert "--rounds" in capsys.readouterr().err
