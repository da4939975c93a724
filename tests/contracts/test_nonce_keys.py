"""The nonce window keeps hex nonces as numbers to halve its memory: every nonce text must still be its own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.contract.signing import NonceWindow

NOW = 1_800_000_000


def test_spellings_of_one_number_are_different_nonces() -> None:
    window = NonceWindow()
    lower = "0123456789abcdef" * 2
    window.add(lower, NOW + 300)
    assert window.seen(lower, NOW)
    for other in (lower.upper(), "0x" + lower[2:], lower[1:], " " + lower[1:], lower[:-1] + "_"):
        assert not window.seen(other, NOW), other


@given(st.lists(st.one_of(st.text(max_size=40), st.text(alphabet="0123456789abcdefABCDEF", min_size=31, max_size=33)),
                unique=True, min_size=2, max_size=20))
def test_only_the_nonces_added_are_seen(nonces: list[str]) -> None:
    window = NonceWindow()
    kept, other = nonces[: len(nonces) // 2], nonces[len(nonces) // 2:]
    for nonce in kept:
        window.add(nonce, NOW + 300)
    assert all(window.seen(n, NOW) for n in kept)
    assert not any(window.seen(n, NOW) for n in other)
    assert len(window) == len(kept)
    assert not any(window.seen(n, NOW + 301) for n in kept)  # expired with their second
