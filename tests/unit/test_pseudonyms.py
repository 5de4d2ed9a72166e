"""符号: per-agency pseudonyms derived from a keyed hash of the resident code."""

from __future__ import annotations

import re

import pytest

from network.pseudonyms import IssuedPseudonymCache, person_key, pseudonym_for

SECRET = b"a-secret-of-sixteen-bytes-or-more"
OTHER_SECRET = b"another-secret-of-sixteen-bytes"
RESIDENT = "12345678901"
YAMAGATA = "2006201400000000"
ODAWARA = "2014206900000000"
DIGITAL = "1419900000002200"


def test_person_key_is_deterministic_and_keyed() -> None:
    key = person_key(SECRET, RESIDENT)
    assert key == person_key(SECRET, RESIDENT)
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    assert key != person_key(OTHER_SECRET, RESIDENT)
    assert key != person_key(SECRET, "12345678902")


def test_pseudonym_is_deterministic_for_the_same_secret() -> None:
    person = person_key(SECRET, RESIDENT)
    assert pseudonym_for(SECRET, person, YAMAGATA) == pseudonym_for(SECRET, person, YAMAGATA)


def test_pseudonym_differs_per_agency() -> None:
    person = person_key(SECRET, RESIDENT)
    issued = {pseudonym_for(SECRET, person, code) for code in (YAMAGATA, ODAWARA, DIGITAL)}
    assert len(issued) == 3


def test_pseudonym_differs_per_person() -> None:
    one = pseudonym_for(SECRET, person_key(SECRET, RESIDENT), YAMAGATA)
    two = pseudonym_for(SECRET, person_key(SECRET, "98765432109"), YAMAGATA)
    assert one != two


def test_pseudonym_differs_per_secret() -> None:
    with_one = pseudonym_for(SECRET, person_key(SECRET, RESIDENT), YAMAGATA)
    with_other = pseudonym_for(OTHER_SECRET, person_key(OTHER_SECRET, RESIDENT), YAMAGATA)
    assert with_one != with_other
    # Even with the same person key, the secret changes the 符号.
    person = person_key(SECRET, RESIDENT)
    assert pseudonym_for(SECRET, person, YAMAGATA) != pseudonym_for(OTHER_SECRET, person, YAMAGATA)


def test_pseudonym_shape() -> None:
    for index in range(50):
        person = person_key(SECRET, f"{index:011d}")
        for agency in (YAMAGATA, DIGITAL):
            assert re.fullmatch(r"[A-Z2-7]{26}", pseudonym_for(SECRET, person, agency))


def test_resident_code_does_not_appear() -> None:
    for resident in (RESIDENT, "00000000001", "99999999999"):
        key = person_key(SECRET, resident)
        pseudonym = pseudonym_for(SECRET, key, YAMAGATA)
        assert resident not in key
        assert resident not in pseudonym
        assert resident[:6] not in key


def test_cache_answers_both_ways_what_it_was_told() -> None:
    cache = IssuedPseudonymCache()
    person = person_key(SECRET, RESIDENT)
    pseudonym = pseudonym_for(SECRET, person, YAMAGATA)
    assert cache.owner(pseudonym) is None
    assert cache.pseudonym(YAMAGATA, person) is None
    cache.remember(pseudonym, YAMAGATA, person)
    cache.remember(pseudonym, YAMAGATA, person)
    assert len(cache) == 1
    assert cache.owner(pseudonym) == (YAMAGATA, person)
    assert cache.pseudonym(YAMAGATA, person) == pseudonym
    assert cache.pseudonym(ODAWARA, person) is None


def test_cache_forgets_the_oldest_beyond_its_capacity() -> None:
    cache = IssuedPseudonymCache(capacity=2)
    people = [person_key(SECRET, f"1234567890{n}") for n in range(3)]
    pseudonyms = [pseudonym_for(SECRET, person, YAMAGATA) for person in people]
    for person, pseudonym in zip(people, pseudonyms, strict=True):
        cache.remember(pseudonym, YAMAGATA, person)
    assert len(cache) == 2
    assert cache.owner(pseudonyms[0]) is None
    assert cache.pseudonym(YAMAGATA, people[0]) is None
    assert cache.owner(pseudonyms[2]) == (YAMAGATA, people[2])
    assert cache.pseudonym(YAMAGATA, people[1]) == pseudonyms[1]


def test_cache_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        IssuedPseudonymCache(capacity=0)
