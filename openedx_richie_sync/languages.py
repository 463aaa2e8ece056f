"""
Turn Studio's course language into the language codes Richie accepts.

Richie validates ``languages`` against Django's ``global_settings.LANGUAGES``; Richie 3.5 runs
Django 4.2, whose list is frozen below so that what we send does not depend on the Django version
this platform runs. An empty list corrupts the run in Richie (docs/richie.md), so the result is never empty.
"""

RICHIE_LANGUAGE_CODES = frozenset(
    """
    af ar ar-dz ast az bg be bn br bs ca ckb cs cy da de dsb el en en-au en-gb eo es es-ar es-co
    es-mx es-ni es-ve et eu fa fi fr fy ga gd gl he hi hr hsb hu hy ia id ig io is it ja ka kab kk
    km kn ko ky lb lt lv mk ml mn mr ms my nb ne nl nn os pa pl pt pt-br ro ru sk sl sq sr sr-latn
    sv sw ta te tg th tk tr tt udm uk ur uz vi zh-hans zh-hant
    """.split()
)

# Studio codes whose primary subtag is not a Richie code, or whose region carries the script.
BUILTIN_LANGUAGE_MAPPING = {
    "zh": "zh-hans",
    "zh-cn": "zh-hans",
    "zh-sg": "zh-hans",
    "zh-tw": "zh-hant",
    "zh-hk": "zh-hant",
    "zh-mo": "zh-hant",
    "iw": "he",
    "in": "id",
    "no": "nb",
    "sr-latn-rs": "sr-latn",
}


def normalize_code(code):
    """``'pt_BR '`` → ``'pt-br'``: the spelling Django (and so Richie) uses."""
    return code.strip().lower().replace("_", "-")


def richie_language(code, mapping=None):
    """The Richie code for one Studio code, or None when there is none."""
    code = normalize_code(code)
    for table in (mapping or {}, BUILTIN_LANGUAGE_MAPPING):
        if code in table:
            return table[code]
    if code in RICHIE_LANGUAGE_CODES:
        return code
    primary = code.split("-", 1)[0]
    if primary in RICHIE_LANGUAGE_CODES:
        return primary
    return BUILTIN_LANGUAGE_MAPPING.get(primary)


def richie_languages(language, mapping=None, default="en"):
    """
    Richie's ``languages`` list for Studio's ``language`` field (one code, or several separated by commas).

    ``mapping`` (normalized source code → Richie code, from LANGUAGE_MAPPING) wins over the
    built-in rules; codes that cannot be mapped are dropped and ``default`` fills an empty result.
    """
    codes = []
    for part in (language or "").replace(";", ",").split(","):
        if part.strip():
            code = richie_language(part, mapping)
            if code and code not in codes:
                codes.append(code)
    return codes or [default]
