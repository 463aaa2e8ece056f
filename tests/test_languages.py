"""Studio language codes → codes Richie accepts (docs/configuration.md#languages)."""

import pytest

from openedx_richie_sync.languages import RICHIE_LANGUAGE_CODES, richie_languages


@pytest.mark.parametrize(
    "studio, expected",
    [
        ("en", ["en"]),
        ("fr", ["fr"]),
        ("EN", ["en"]),
        ("en-us", ["en"]),
        ("en_US", ["en"]),
        ("en-gb", ["en-gb"]),
        ("es-419", ["es"]),
        ("pt_PT", ["pt"]),
        ("pt-BR", ["pt-br"]),
        ("pt_BR", ["pt-br"]),
        ("zh_HANS", ["zh-hans"]),
        ("zh_CN", ["zh-hans"]),
        ("zh-cn", ["zh-hans"]),
        ("zh_TW", ["zh-hant"]),
        ("zh", ["zh-hans"]),
        ("fr_CA", ["fr"]),
        ("sr-latn", ["sr-latn"]),
        ("he", ["he"]),
        ("iw", ["he"]),
        ("fr,en", ["fr", "en"]),
        ("fr, fr_CA", ["fr"]),
        (None, ["en"]),
        ("", ["en"]),
        ("  ", ["en"]),
        ("xx", ["en"]),
        ("tlh", ["en"]),
    ],
)
def test_builtin_rules(studio, expected):
    assert richie_languages(studio) == expected


def test_result_is_never_empty_and_always_valid():
    for code in ["", "qq-zz", "x", "es-419", "zh_SG", "nb-NO", None]:
        result = richie_languages(code)
        assert result and set(result) <= RICHIE_LANGUAGE_CODES


def test_operator_mapping_wins():
    assert richie_languages("es-419", {"es-419": "es-mx"}) == ["es-mx"]
    assert richie_languages("ar-ma", {"ar-ma": "ar-dz"}) == ["ar-dz"]


def test_default_language():
    assert richie_languages(None, default="fr") == ["fr"]


def test_the_codes_richie_rejects_are_not_in_the_table():
    for rejected in ["en-us", "EN", "pt-BR", "en_US", "zh-cn", "es-419"]:
        assert rejected not in RICHIE_LANGUAGE_CODES
    assert len(RICHIE_LANGUAGE_CODES) == 98
