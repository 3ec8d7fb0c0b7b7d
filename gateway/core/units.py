"""Quantities written for people: "5,000,000 USD revenue", "1,200 endpoints", "1 seat".

The license centers export a bare number and a unit of measure ("5000000", "revenue";
"1200", "endpoint"). Customers read them here with the number in their own locale's
digits and separators (Babel, from the request's Accept-Language) and the unit as an
English word in its singular or plural form. The words stay English because every page
of the gateway is English; only the numbers follow the reader's locale.

Known units are kept in UNITS below; a unit that is not there is shown exactly as the
license center wrote it ("17 widget-hours"), never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.localedata import locale_identifiers
from babel.numbers import format_decimal

DEFAULT_LOCALE = "en"
# A revenue meter without a currency of its own is counted in the vendor's currency.
DEFAULT_REVENUE_CURRENCY = "USD"
# Plural rules for the unit words: they are English, whatever locale the number is in.
WORDS_LOCALE = Locale("en")


@dataclass(frozen=True)
class Unit:
    """How one unit of measure is written: its singular and plural words."""

    one: str
    other: str

    def word(self, quantity: Decimal) -> str:
        return self.one if WORDS_LOCALE.plural_form(quantity) == "one" else self.other


def _counted(word: str) -> Unit:
    return Unit(word, word + "s")


def _symbol(symbol: str) -> Unit:
    return Unit(symbol, symbol)  # "1 GB", "250 GB": symbols take no plural


# Keyed by the unit as exports write it, lower-cased; plural spellings are accepted too.
UNITS: dict[str, Unit] = {
    **{
        word: _counted(word)
        for word in (
            "seat",
            "endpoint",
            "user",
            "device",
            "core",
            "instance",
            "node",
            "server",
            "license",
            "host",
            "socket",
            "site",
            "processor",
            "agent",
            "appliance",
            "workstation",
            "connection",
            "transaction",
            "hour",
            "day",
            "month",
            "year",
        )
    },
    "named user": _counted("named user"),
    "concurrent user": _counted("concurrent user"),
    "vcpu": Unit("vCPU", "vCPUs"),
    "cpu": Unit("CPU", "CPUs"),
    **{symbol.lower(): _symbol(symbol) for symbol in ("KB", "MB", "GB", "TB", "PB")},
    "revenue": Unit("revenue", "revenue"),
}
# "seats" as well as "seat".
UNITS.update({unit.other.lower(): unit for unit in list(UNITS.values())})
# A revenue meter names its currency after the word or before it: "revenue USD",
# "revenue:EUR", "revenue (GBP)", "EUR revenue".
REVENUE = re.compile(
    r"^(?:revenue\s*[:(\s-]\s*(?P<after>[A-Za-z]{3})\)?|(?P<before>[A-Za-z]{3})\s+revenue)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Quantity:
    """A quantity as people read it: `text` is the whole ("1,200 endpoints"), `number`
    and `unit` its two halves ("1,200", "endpoints")."""

    number: str
    unit: str

    @property
    def text(self) -> str:
        return f"{self.number} {self.unit}" if self.unit else self.number


def plain_number(quantity: Decimal) -> str:
    """`25`, `2.5`, `5000000`: no trailing zeros, never scientific notation (for machines)."""
    return format(quantity.normalize(), "f")


def unit_words(unit_of_measure: str, quantity: Decimal) -> str:
    """The words after the number: known units in their singular or plural form, a
    revenue meter with its currency, anything else as given."""
    given = " ".join(unit_of_measure.split())
    key = given.lower()
    revenue = REVENUE.match(given)
    if key == "revenue" or revenue:
        currency = (
            (revenue.group("after") or revenue.group("before")) if revenue else None
        ) or DEFAULT_REVENUE_CURRENCY
        return f"{currency.upper()} revenue"
    unit = UNITS.get(key)
    return unit.word(quantity) if unit else given


def quantity_for_people(quantity: Decimal, unit_of_measure: str, locale: str) -> Quantity:
    """`quantity` of `unit_of_measure` in `locale`'s digits, with the unit in words."""
    exact = quantity.normalize()
    # The locale's own pattern: its separators and grouping (en_IN writes 50,00,000).
    number = format_decimal(exact, locale=_locale(locale))
    return Quantity(number, unit_words(unit_of_measure, exact))


def negotiated_locale(preferred: list[str]) -> str:
    """The best locale Babel knows for an Accept-Language list (best first), else `en`."""
    wanted = [tag.replace("-", "_") for tag in preferred if tag and tag != "*"]
    return negotiate_locale(wanted, _known_locales()) or DEFAULT_LOCALE


def request_locale() -> str:
    """The locale of this request's Accept-Language (`en` without one)."""
    from flask import has_request_context, request

    if not has_request_context():
        return DEFAULT_LOCALE
    return negotiated_locale([tag for tag, _ in request.accept_languages])


@cache
def _known_locales() -> tuple[str, ...]:
    return tuple(locale_identifiers())


@cache
def _locale(identifier: str) -> Locale:
    try:
        return Locale.parse(identifier)
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)
