"""The secret format: generation, checksum, hashing, hints."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenward.domain import secrets


def test_generated_secret_has_prefix_and_length() -> None:
    secret = secrets.generate()
    prefix, _, body = secret.rpartition("_")
    assert prefix == "tw"
    assert len(body) == secrets.RANDOM_LENGTH + secrets.CHECKSUM_LENGTH
    assert set(body) <= set(secrets.ALPHABET)
    assert secrets.is_well_formed(secret)


def test_random_part_carries_at_least_160_bits() -> None:
    import math

    assert secrets.RANDOM_LENGTH * math.log2(len(secrets.ALPHABET)) >= 160


def test_secrets_differ() -> None:
    assert len({secrets.generate() for _ in range(1000)}) == 1000


@pytest.mark.parametrize("prefix", ["bfg", "bft", "bfw", "bfu", "bfs", "a", "x9"])
def test_other_prefixes(prefix: str) -> None:
    secret = secrets.generate(prefix)
    assert secret.startswith(f"{prefix}_")
    assert secrets.is_well_formed(secret)
    assert secrets.prefix_of(secret) == prefix


@pytest.mark.parametrize("prefix", ["", "TW", "tw_x", "1tw", "a" * 17, "t w"])
def test_bad_prefix_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        secrets.generate(prefix)


@given(st.integers(min_value=0), st.sampled_from(secrets.ALPHABET), st.data())
def test_checksum_rejects_every_single_character_change(
    seed: int, replacement: str, data: st.DataObject
) -> None:
    secret = secrets.generate()
    position = data.draw(st.integers(min_value=0, max_value=len(secret) - 1))
    if secret[position] == replacement or secret[position] == "_":
        return
    changed = secret[:position] + replacement + secret[position + 1 :]
    assert not secrets.is_well_formed(changed)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tw_",
        "tw",
        "not a secret",
        "tw_" + "A" * 34,
        "tw_" + "A" * 33,
        "tw_" + "A" * 35,
        "tw_" + "!" * 34,
        "tw_" + "é" * 34,
        "\x00" * 40,
        "x" * 10_000,
    ],
)
def test_malformed_texts_refused(text: str) -> None:
    assert not secrets.is_well_formed(text)


def test_truncated_or_extended_secret_refused() -> None:
    secret = secrets.generate()
    assert not secrets.is_well_formed(secret[:-1])
    assert not secrets.is_well_formed(secret + "A")
    assert not secrets.is_well_formed("t" + secret)


def test_prefix_is_covered_by_checksum() -> None:
    secret = secrets.generate("tw")
    assert not secrets.is_well_formed("tx" + secret[2:])


def test_hash_is_sha256_of_whole_secret() -> None:
    secret = secrets.generate()
    assert secrets.hash_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()


def test_hint_shows_prefix_and_checksum_digits_only() -> None:
    secret = secrets.generate("bft")
    hint = secrets.hint(secret)
    assert hint == f"bft_...{secret[-5:]}"
    random_part = secret[4 : 4 + secrets.RANDOM_LENGTH]
    assert random_part not in hint
    assert secrets.prefix_of(hint) == "bft"
