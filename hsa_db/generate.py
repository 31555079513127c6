"""Values that are generated rather than learned: PII through Faker in the chosen locales, free
text, unique identifiers and placeholders for columns whose contents cannot be modelled."""

from __future__ import annotations

import logging
import string
import uuid
from collections.abc import Callable

import numpy as np
from faker import Faker

from hsa_db.errors import SynthesizerError

log = logging.getLogger(__name__)

#: Faker method behind each PII sdtype.
PII_METHODS = {
    "email": "email",
    "phone_number": "phone_number",
    "first_name": "first_name",
    "last_name": "last_name",
    "name": "name",
    "address": "address",
    "street_address": "street_address",
    "secondary_address": "secondary_address",
    "city": "city",
    "state": "state",
    "state_abbr": "state_abbr",
    "country": "country",
    "country_code": "country_code",
    "postcode": "postcode",
    "company": "company",
    "job": "job",
    "ssn": "ssn",
    "credit_card_number": "credit_card_number",
    "iban": "iban",
    "ipv4_address": "ipv4",
    "ipv6_address": "ipv6",
    "url": "url",
    "user_name": "user_name",
    "license_plate": "license_plate",
}

#: Below this many values every one is drawn from Faker; above, values come from a pool.
_POOL_THRESHOLD = 2_000
_UNIQUE_ROUNDS = 5
_ALPHANUMERIC = np.array(list(string.ascii_letters + string.digits))


def check_locales(locales: list[str]) -> None:
    """Refuse locales Faker does not know, with the list of what it does."""
    from faker.config import AVAILABLE_LOCALES

    unknown = [locale for locale in locales if locale not in AVAILABLE_LOCALES]
    if unknown:
        raise SynthesizerError(
            f"unknown locale(s) {', '.join(unknown)}; use Faker locales such as 'en_US', 'fr_CA'"
        )


class ValueFactory:
    """Generates the values of PII, text, id and placeholder columns for one sampling run."""

    def __init__(self, locales: list[str]) -> None:
        self._faker = Faker(locales)
        self._fallback = Faker("en_US")
        self._words: np.ndarray | None = None
        self._warned: set[str] = set()

    def reseed(self, seed: int) -> None:
        """Make the next values depend on ``seed`` only."""
        self._faker.seed_instance(seed)
        self._fallback.seed_instance(seed)

    def pii(
        self,
        sdtype: str,
        count: int,
        rng: np.random.Generator,
        length: int | None = None,
        seen: set[str] | None = None,
    ) -> list[str]:
        """``count`` values of a PII sdtype, unique (also against ``seen``) if ``seen`` is given."""
        method = self._method(sdtype)
        if seen is not None:
            return self._unique(method, count, length, seen)

        size = count if count <= _POOL_THRESHOLD else max(_POOL_THRESHOLD, count // 10)
        pool = [_truncate(str(method()), length) for _ in range(size)]
        if size == count:
            return pool
        picks = rng.integers(0, size, count)
        return [pool[index] for index in picks]

    def _method(self, sdtype: str) -> Callable[[], object]:
        name = PII_METHODS.get(sdtype)
        if name is None:
            raise SynthesizerError(f"no generator for sdtype {sdtype!r}; set another sdtype")
        try:
            method: Callable[[], object] = getattr(self._faker, name)
            return method
        except AttributeError:
            if sdtype not in self._warned:
                self._warned.add(sdtype)
                log.warning("no chosen locale generates %s; using en_US for it", sdtype)
            fallback: Callable[[], object] = getattr(self._fallback, name)
            return fallback

    def _unique(
        self, method: Callable[[], object], count: int, length: int | None, seen: set[str]
    ) -> list[str]:
        out: list[str] = []
        for _ in range(_UNIQUE_ROUNDS):
            for _ in range(count - len(out)):
                value = _truncate(str(method()), length)
                if value not in seen:
                    seen.add(value)
                    out.append(value)
            if len(out) == count:
                return out

        number = len(seen)
        while len(out) < count:
            number += 1
            suffix = str(number)
            base = str(method())
            value = _truncate(base, None if length is None else length - len(suffix)) + suffix
            if length is not None and len(suffix) > length:
                raise SynthesizerError(
                    f"cannot make {count} unique values of length {length}; "
                    "lower the scale or widen the column"
                )
            if value not in seen:
                seen.add(value)
                out.append(value)
        return out

    def text(self, lengths: np.ndarray, rng: np.random.Generator) -> list[str]:
        """Sentences of made-up words, one per requested length."""
        words = self._vocabulary()
        out: list[str] = []
        for target in np.maximum(np.nan_to_num(lengths, nan=1.0).astype(int), 1):
            picks = words[rng.integers(0, len(words), target // 4 + 2)]
            sentence = " ".join(picks)[:target].rstrip()
            if target >= 8:
                sentence = sentence[: target - 1].rstrip() + "."
            out.append(sentence[:1].upper() + sentence[1:])
        return out

    def _vocabulary(self) -> np.ndarray:
        if self._words is None:
            self._words = np.array(sorted(set(self._fallback.get_words_list())))
        return self._words


def random_strings(lengths: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Random letters and digits, one string per requested length."""
    out = []
    for target in np.maximum(np.nan_to_num(lengths, nan=1.0).astype(int), 1):
        out.append("".join(_ALPHANUMERIC[rng.integers(0, len(_ALPHANUMERIC), target)]))
    return out


def random_bytes(lengths: np.ndarray, rng: np.random.Generator) -> list[bytes]:
    """Random bytes, one value per requested length (at most 1 MiB each)."""
    sizes = np.clip(np.nan_to_num(lengths, nan=0.0).astype(int), 0, 1 << 20)
    return [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in sizes]


def random_uuids(count: int, rng: np.random.Generator) -> list[str]:
    """Version-4 UUIDs as text, drawn from ``rng``."""
    raw = rng.integers(0, 256, (count, 16), dtype=np.uint8)
    return [str(uuid.UUID(bytes=row.tobytes(), version=4)) for row in raw]


def _truncate(value: str, length: int | None) -> str:
    return value if length is None else value[:length]
