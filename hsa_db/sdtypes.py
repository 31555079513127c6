"""Detect each column's sdtype from its SQL type, its name and a bounded sample of its values.

The rules, in order:

1. Keys. Primary-key and foreign-key columns of an integer, uuid, string or whole-number
   type are ``id``; so are other integer/uuid/string columns named ``id`` or ``..._id``.
   Unique-only string columns are ``id`` when their values are short codes (no spaces, at
   most 20 characters, a digit or all capitals) and carry no PII name; otherwise the rules
   below decide.
2. Types. Enums are ``categorical``; booleans ``boolean``; numbers and intervals
   ``numerical``; dates, times and timestamps ``datetime``; JSON, arrays and binary
   ``unknown`` (the synthesizer generates those from their SQL type); uuid ``id``.
3. PII by column name, for string columns only: ``email``, ``phone``/``fax`` ->
   ``phone_number``, ``first_name``, ``last_name``, ``contact_name``/``full_name`` (or
   ``name`` in a table of people) -> ``name``, ``address``, ``city``, ``state`` (only beside
   other address columns, since a lone ``state`` is usually a status), ``country``,
   ``postal_code``/``zip`` -> ``postcode``, ``company``, ``ssn``, credit cards, IBAN, IP
   addresses, URLs, user names, job titles named ``job``. ``region`` is not PII: it is a
   coarse area with few values and stays categorical.
4. PII by value: strings that are all e-mail or IPv4 addresses.
5. Other strings: ``text`` when values are long (free text) or nearly all distinct,
   ``categorical`` when few distinct values repeat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hsa_db.metadata import Column, Metadata

#: Strings averaging more characters than this are free text.
LONG_TEXT_CHARACTERS = 40
#: At most this many distinct strings are always categorical (small lookup tables).
FEW_DISTINCT_VALUES = 30
#: Above this share of distinct values among the sampled ones, strings are text.
MAX_CATEGORICAL_DISTINCT_SHARE = 0.5
#: Longest value of a unique column that still reads as a code rather than a value.
SHORT_CODE_CHARACTERS = 20

_INTEGER_TYPES = {"smallint", "integer", "bigint"}
_STRING_PREFIXES = ("char", "varchar", "text")
_DATETIME_TYPES = {"date", "time", "timestamp", "timestamptz"}

_PERSON_TABLES = {
    "customer",
    "employee",
    "person",
    "people",
    "user",
    "member",
    "contact",
    "client",
    "patient",
    "student",
    "staff",
    "author",
}
_ADDRESS_WORDS = {"address", "city", "country", "postal", "zip", "zipcode", "postcode", "street"}

#: Name rules for string columns: (sdtype, whole names, words). A rule matches when the
#: column's normalised name equals or ends with one of the whole names, or contains a word.
_NAME_RULES: list[tuple[str, tuple[str, ...], frozenset[str]]] = [
    ("email", ("email_address", "e_mail"), frozenset({"email", "emailaddress"})),
    ("ipv6_address", (), frozenset({"ipv6"})),
    ("ipv4_address", ("ip_address",), frozenset({"ip", "ipv4"})),
    ("first_name", ("first_name", "given_name"), frozenset({"firstname", "forename"})),
    ("last_name", ("last_name", "family_name"), frozenset({"lastname", "surname"})),
    (
        "name",
        ("full_name", "contact_name", "person_name", "customer_name", "employee_name"),
        frozenset({"fullname"}),
    ),
    ("phone_number", ("phone_number",), frozenset({"phone", "fax", "telephone", "mobile"})),
    (
        "secondary_address",
        ("address2", "address_2", "address_line2", "address_line_2"),
        frozenset(),
    ),
    ("street_address", ("street_address", "address1", "address_line1"), frozenset({"street"})),
    ("address", (), frozenset({"address"})),
    ("city", (), frozenset({"city", "town"})),
    ("state_abbr", ("state_abbr", "state_code"), frozenset()),
    ("state", ("state_name",), frozenset({"province"})),
    ("country_code", ("country_code",), frozenset()),
    ("country", (), frozenset({"country"})),
    ("postcode", ("postal_code", "zip_code"), frozenset({"zip", "zipcode", "postcode", "postal"})),
    ("company", ("company_name",), frozenset({"company", "employer"})),
    ("job", ("job_title",), frozenset({"job", "occupation"})),
    ("ssn", ("social_security_number",), frozenset({"ssn"})),
    ("credit_card_number", ("credit_card", "card_number", "cc_number"), frozenset({"creditcard"})),
    ("iban", (), frozenset({"iban"})),
    ("url", ("web_site",), frozenset({"url", "homepage", "website"})),
    ("user_name", ("user_name",), frozenset({"username", "login"})),
    ("license_plate", ("license_plate", "licence_plate", "plate_number"), frozenset()),
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_IPV4 = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$")


def detect_sdtypes(metadata: Metadata, samples: dict[str, dict[str, list[object]]]) -> None:
    """Set the sdtype (and so the PII flag) of every column of ``metadata``.

    ``samples`` maps table -> column -> sampled values; columns without a sample are judged
    by name and type alone.
    """
    for table_name, table in metadata.tables.items():
        references = set(table.primary_key) | metadata.foreign_key_columns(table_name)
        unique = {key[0] for key in table.unique_constraints if len(key) == 1}
        address_context = _has_address_columns(table.column_names)
        table_sample = samples.get(table_name, {})

        for column in table.columns.values():
            sdtype = detect_sdtype(
                column,
                table_sample.get(column.name),
                table_name=table_name,
                is_reference=column.name in references,
                is_unique=column.name in unique,
                address_context=address_context,
            )
            metadata.update_column(table_name, column.name, sdtype=sdtype)


def detect_sdtype(
    column: Column,
    values: Sequence[object] | None,
    table_name: str = "",
    is_reference: bool = False,
    is_unique: bool = False,
    address_context: bool = False,
) -> str:
    """The sdtype of one column (see the module's rules)."""
    family = type_family(column.sql_type)
    tokens = name_tokens(column.name)
    strings = _strings(values)

    if is_reference and family in ("integer", "uuid", "string", "whole"):
        return "id"
    if family in ("integer", "uuid", "string") and tokens and tokens[-1] == "id":
        return "id"
    if family != "string":
        return _sdtype_of_type(family)

    pii = pii_from_name(tokens, table_name, address_context)
    if pii is not None:
        return _abbreviated(pii, strings)
    if is_unique and _are_short_codes(strings):
        return "id"
    return pii_from_values(strings) or categorical_or_text(strings)


def type_family(sql_type: str | None) -> str:
    """A coarse family of a neutral SQL type, as the sdtype rules need it."""
    if sql_type is None:
        return "string"
    if sql_type.endswith("[]"):
        return "array"
    if sql_type in _INTEGER_TYPES:
        return "integer"
    if sql_type.startswith("numeric"):
        return "whole" if sql_type.endswith(",0)") else "number"
    if sql_type in ("real", "double", "interval"):
        return "number"
    if sql_type.startswith(_STRING_PREFIXES):
        return "string"
    if sql_type in _DATETIME_TYPES:
        return "datetime"
    if sql_type in ("boolean", "enum", "uuid", "json", "binary"):
        return sql_type
    return "string"


def _sdtype_of_type(family: str) -> str:
    return {
        "integer": "numerical",
        "whole": "numerical",
        "number": "numerical",
        "boolean": "boolean",
        "datetime": "datetime",
        "enum": "categorical",
        "uuid": "id",
    }.get(family, "unknown")


def name_tokens(name: str) -> list[str]:
    """Lower-case words of a column name: ``BillingPostalCode`` -> billing, postal, code."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    return [token for token in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if token]


def pii_from_name(tokens: list[str], table_name: str, address_context: bool) -> str | None:
    """The PII sdtype a column's name announces, if any."""
    joined = "_".join(tokens)
    words = set(tokens)
    for sdtype, whole_names, name_words in _NAME_RULES:
        if any(joined == whole or joined.endswith("_" + whole) for whole in whole_names):
            return sdtype
        if words & name_words:
            return sdtype

    if "state" in words and address_context:
        return "state"
    if joined == "name" and _singular(name_tokens(table_name)) in _PERSON_TABLES:
        return "name"
    return None


def _singular(tokens: list[str]) -> str:
    word = tokens[-1] if tokens else ""
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _abbreviated(sdtype: str, strings: list[str]) -> str:
    """``country_code``/``state_abbr`` for country or state columns holding codes (US, WA)."""
    codes = {"country": ("country_code", 3), "state": ("state_abbr", 2)}
    if sdtype not in codes or not strings:
        return sdtype
    abbreviated, longest = codes[sdtype]
    if all(len(value) <= longest and value.isalpha() and value.isupper() for value in strings):
        return abbreviated
    return sdtype


def _has_address_columns(column_names: list[str]) -> bool:
    return sum(bool(set(name_tokens(name)) & _ADDRESS_WORDS) for name in column_names) >= 2


def pii_from_values(strings: list[str]) -> str | None:
    """``email`` or ``ipv4_address`` when every sampled value is one."""
    if not strings:
        return None
    if all(_EMAIL.match(value) for value in strings):
        return "email"
    if all(_IPV4.match(value) for value in strings):
        return "ipv4_address"
    return None


def categorical_or_text(strings: list[str]) -> str:
    """``categorical`` for short values that repeat, ``text`` for free or unique text."""
    if not strings:
        return "categorical"
    mean_length = sum(len(value) for value in strings) / len(strings)
    if mean_length > LONG_TEXT_CHARACTERS:
        return "text"

    distinct = len(set(strings))
    if distinct <= FEW_DISTINCT_VALUES or distinct / len(strings) <= MAX_CATEGORICAL_DISTINCT_SHARE:
        return "categorical"
    return "text"


def _are_short_codes(strings: list[str]) -> bool:
    """Codes such as ``ALFKI``, ``US`` or ``A-12``: short, no spaces, a digit or all capitals
    (words such as ``Books`` are names, not codes)."""
    return bool(strings) and all(
        len(value) <= SHORT_CODE_CHARACTERS
        and not any(ch.isspace() for ch in value)
        and (value.isupper() or any(ch.isdigit() for ch in value))
        for value in strings
    )


def _strings(values: Sequence[object] | None) -> list[str]:
    if not values:
        return []
    return [
        value if isinstance(value, str) else str(value) for value in values if value is not None
    ]
