"""The cleaner every outside string passes on its way into the store (syncd.text)."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from syncd.text import (
    ELLIPSIS,
    bound_depth,
    clean_line,
    clean_optional,
    clean_text,
    terminal_safe,
)


def is_unsafe(char: str) -> bool:
    """Control, format (but the emoji joiners), surrogate, line or paragraph separator."""
    return (unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp")
            and char not in "\u200c\u200d")


limits = st.integers(min_value=0, max_value=300)
# Any code point, with the troublemakers drawn often: C0, DEL, C1, bidi, zero-width, tags.
nasty = st.sampled_from(["\r", "\n", "\r\n", "\x1b[31m", "\x1b]0;pwned\x07", "\x00", "\x7f",
                         "\x85", "\x9b2J", "\u202e", "\u2066", "\u200b", "\ufeff", "\u2028",
                         "\U000e0041", "\t", " ", "\ud800"])
texts = st.lists(st.one_of(st.text(), nasty), max_size=40).map("".join)
# What people really type: letters of any script, accents, digits, emoji, joined emoji.
ordinary = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs"),
                                 exclude_characters="\u2028\u2029"), max_size=150)


@given(texts, limits)
def test_a_line_is_idempotent_bounded_and_free_of_controls(value: str, limit: int) -> None:
    once = clean_line(value, limit)
    assert clean_line(once, limit) == once
    assert len(once) <= limit
    assert not any(is_unsafe(c) or c in "\n\r\t" for c in once)
    assert "\x1b" not in once and "\x9b" not in once


@given(texts, limits)
def test_a_note_keeps_line_feeds_only(value: str, limit: int) -> None:
    once = clean_text(value, limit)
    assert clean_text(once, limit) == once
    assert len(once) <= limit
    assert not any(is_unsafe(c) and c != "\n" for c in once)
    assert "\r" not in once


@given(ordinary)
def test_ordinary_text_is_left_alone(value: str) -> None:
    expected = value.strip()
    assert clean_line(value, 200) == expected
    assert clean_text(value, 200) == expected


@given(texts)
def test_terminal_output_has_no_escape_or_control(value: str) -> None:
    shown = terminal_safe(value)
    assert terminal_safe(shown) == shown
    assert not any(is_unsafe(c) and c not in "\n\t" for c in shown)
    assert "\r" not in shown


def test_what_a_hostile_gear_name_becomes() -> None:
    assert clean_line("Pegasus\r\nBcc: all@example.org\x1b[2J\x1b[31m red") == (
        "Pegasus  Bcc: all@example.org red")
    assert clean_line("\u202eevil.exe\u202c txt") == "evil.exe txt"


def test_emoji_accents_and_joiners_stay() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_line(f"Café run {family} \u00e9\u0301 \U0001f3c3\ufe0f") == (
        f"Café run {family} \u00e9\u0301 \U0001f3c3\ufe0f")


def test_long_text_is_cut_with_an_ellipsis() -> None:
    assert clean_line("x" * 500, 200) == "x" * 199 + ELLIPSIS
    assert clean_text("line\r\n" * 1000, 2000).count("\n") < 400
    assert clean_optional("\x1b[0m   ") is None
    assert clean_optional(None) is None


def test_deep_json_is_cut_at_the_bound() -> None:
    deep: object = "leaf"
    for _ in range(10_000):
        deep = [deep]
    bounded = bound_depth({"a": deep}, 5)
    assert bounded == {"a": [[[[None]]]]}
    assert bound_depth({"name": "run", "laps": [{"n": 1}]}) == {"name": "run",
                                                                 "laps": [{"n": 1}]}
