"""Quantities written for people: locale-aware numbers, plural unit words, currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask

from gateway.core.units import (
    negotiated_locale,
    plain_number,
    quantity_for_people,
    request_locale,
    unit_words,
)


@pytest.mark.parametrize(
    ("quantity", "unit", "locale", "text"),
    [
        ("5000000", "revenue", "en", "5,000,000 USD revenue"),
        ("5000000.00", "revenue", "en", "5,000,000 USD revenue"),
        ("1200", "endpoint", "en", "1,200 endpoints"),
        ("1", "seat", "en", "1 seat"),
        ("1.00", "seat", "en", "1 seat"),
        ("0", "seat", "en", "0 seats"),
        ("2.5", "seat", "en", "2.5 seats"),
        ("250", "GB", "en", "250 GB"),
        ("1", "tb", "en", "1 TB"),
        ("10", "users", "en", "10 users"),
        ("1", "users", "en", "1 user"),
        ("25", "named user", "en", "25 named users"),
        ("8", "vCPU", "en", "8 vCPUs"),
        ("4", "Core", "en", "4 cores"),
        ("1", "instance", "en", "1 instance"),
        ("3", "device", "en", "3 devices"),
        # Unknown units are shown exactly as given, never guessed at.
        ("17", "widget-hours", "en", "17 widget-hours"),
        ("1", "Flux Capacitor", "en", "1 Flux Capacitor"),
        # A revenue meter naming its currency.
        ("5000000", "EUR revenue", "en", "5,000,000 EUR revenue"),
        ("750000", "revenue:gbp", "en", "750,000 GBP revenue"),
        ("750000", "revenue (CHF)", "en", "750,000 CHF revenue"),
        # The reader's locale writes the number; the words stay English.
        ("5000000", "revenue", "de_DE", "5.000.000 USD revenue"),
        ("1234.5", "seat", "de", "1.234,5 seats"),
        ("1200", "endpoint", "fr_FR", "1\u202f200 endpoints"),
        ("5000000", "revenue", "en_IN", "50,00,000 USD revenue"),
        ("1200", "endpoint", "not-a-locale", "1,200 endpoints"),
    ],
)
def test_quantities_read_as_people_write_them(
    quantity: str, unit: str, locale: str, text: str
) -> None:
    assert quantity_for_people(Decimal(quantity), unit, locale).text == text


def test_the_number_and_the_unit_come_apart_for_the_table() -> None:
    shown = quantity_for_people(Decimal("1200"), "endpoint", "en")
    assert (shown.number, shown.unit) == ("1,200", "endpoints")


def test_blank_units_leave_the_number_alone() -> None:
    assert quantity_for_people(Decimal("3"), "  ", "en").text == "3"
    assert unit_words("  named   user ", Decimal(2)) == "named users"


def test_machines_get_the_plain_decimal() -> None:
    assert [plain_number(Decimal(v)) for v in ("5000000.00", "2.50", "0.00", "1E+3")] == [
        "5000000",
        "2.5",
        "0",
        "1000",
    ]


@pytest.mark.parametrize(
    ("accept", "locale"),
    [
        (["de-CH", "en"], "de_CH"),
        (["fr"], "fr"),
        (["xx-YY", "nl-NL"], "nl_NL"),
        (["*"], "en"),
        ([], "en"),
        (["zz"], "en"),
    ],
)
def test_the_locale_is_negotiated_from_accept_language(accept: list[str], locale: str) -> None:
    assert negotiated_locale(accept) == locale


def test_a_request_locale_follows_its_accept_language_by_quality(app: Flask) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "en;q=0.5, de-AT;q=0.9"}):
        assert request_locale() == "de_AT"
    with app.test_request_context("/"):
        assert request_locale() == "en"
    assert request_locale() == "en"  # outside a request
