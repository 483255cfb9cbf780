"""Controlled vocabularies for rights metadata, so that filters and machines agree."""

import re

# ISO 3166-1 alpha-2, plus WW for worldwide.
COUNTRIES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO
    FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE
    JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO
    MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM
    TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 - a compact, greppable list
)
WORLDWIDE = "WW"
# The currencies an offer may be priced in (and the catalogue filters prices by).
CURRENCIES = ["EUR", "USD", "GBP", "JPY", "CHF", "CAD", "AUD"]

GENRES = {
    "aerial": "Aerial and drone",
    "animation": "Animation",
    "documentary": "Documentary",
    "drama": "Drama",
    "education": "Education",
    "lifestyle": "Lifestyle",
    "music": "Music performance",
    "nature": "Nature and wildlife",
    "news": "News and current affairs",
    "sports": "Sports",
    "stock": "Stock footage",
    "travel": "Travel",
    "urban": "Urban and street",
    "vlog": "Vlogs and creators",
}

CONTENT_RATINGS = {"all_ages": "All ages", "teen": "Teen", "mature": "Mature"}

# Kept aligned with RSL 1.0 usage names where they exist (ai-train, ai-input, ai-index).
PERMITTED_USES = {
    "pre_training": "Pre-training",
    "fine_tuning": "Fine-tuning",
    "evaluation": "Evaluation",
    "retrieval": "Retrieval (RAG, search index)",
}

EXCLUSION_REASONS = {"music": "Music", "likeness": "Likeness", "brand": "Brand or trademark", "other": "Other"}

# BCP 47 primary language subtags that the UI offers by name; any well-formed tag is accepted.
LANGUAGES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "hi": "Hindi", "it": "Italian",
    "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese", "ru": "Russian",
    "sv": "Swedish", "tr": "Turkish", "zh": "Chinese", "zxx": "No linguistic content",
}  # fmt: skip


LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")  # well-formed BCP 47, as manifests check it


def language_tag(text: str) -> str | None:
    """A well-formed BCP 47 tag in its usual case (``pt-BR``, ``zh-Hant-TW``), or None."""
    text = text.strip()
    if len(text) > 35 or not LANGUAGE_TAG.match(text):
        return None
    first, *rest = text.split("-")
    # After the language: a four-letter script in title case, a region (two letters, or three digits) in upper.
    return "-".join(
        [first.lower()]
        + [p.title() if len(p) == 4 and p.isalpha() else p.upper() if len(p) == 2 or p.isdigit() else p.lower()
           for p in rest]
    )  # fmt: skip


def _iso639(code: str):
    """The ISO 639 language of a two- or three-letter code, or None."""
    import pycountry  # its database loads on first use

    code = code.lower()
    return pycountry.languages.get(alpha_2=code) if len(code) == 2 else pycountry.languages.get(alpha_3=code)


def language_name(tag: str) -> str:
    """``pt-BR`` reads ``Portuguese (pt-BR)``, ``zxx`` ``No linguistic content (zxx)``: the name, with the tag that
    filters and manifests use."""
    first = tag.split("-")[0].lower()
    name = LANGUAGES.get(first) or getattr(_iso639(first), "name", None)
    return f"{name} ({tag})" if name else tag


def unknown_language_part(tag: str) -> str | None:
    """Why a well-formed tag names no real language, or None: its language must be in ISO 639 (zxx, und and mul
    included), a script in ISO 15924, a two-letter region in ISO 3166. Private-use and rarer subtags pass."""
    import pycountry

    first, *rest = tag.split("-")
    if _iso639(first) is None and not ("qaa" <= first.lower() <= "qtz"):  # ISO 639's range for local use
        return f"{first} is not a language in ISO 639"
    for part in rest:
        if len(part) == 4 and part.isalpha() and pycountry.scripts.get(alpha_4=part) is None:
            return f"{part} is not a script in ISO 15924"
        if len(part) == 2 and part.isalpha() and part.upper() not in COUNTRIES:
            return f"{part} is not a region in ISO 3166"
    return None


def territory_problem(codes: list[str], *, missing: str) -> str | None:
    """What is wrong with a list of territory codes, or None. ``missing`` is the message for an empty list."""
    if not codes:
        return missing
    bad = [c for c in codes if c != WORLDWIDE and c not in COUNTRIES]
    if bad:
        return f"Unknown territory code(s): {', '.join(bad)}. Use ISO 3166-1 alpha-2 codes, or WW for worldwide."
    if WORLDWIDE in codes and len(codes) > 1:
        return "WW (worldwide) cannot be combined with other territories."
    return None


def territory_codes(values) -> list[str]:
    # ASCII only before upper-casing: Unicode upper-cases the ligature U+FB01 to "FI".
    codes = (str(code).strip() for code in values or [])
    return sorted({code.upper() if code.isascii() else code for code in codes if code})


def codes_beyond(codes, held) -> list[str]:
    """The territories of ``codes`` that ``held`` does not cover (WW in ``held`` covers every one), in order."""
    if WORLDWIDE in held:
        return []
    return [code for code in codes if code not in held]


def territory_beyond(granted: list[str], held: list[str]) -> str | None:
    """Why an offer's territory exceeds the corpus' rights, or None: a licence cannot grant what the licensor lacks."""
    if not (beyond := codes_beyond(granted, held)):
        return None
    shown = "worldwide (WW)" if beyond == [WORLDWIDE] else ", ".join(beyond)
    return f"The corpus' rights cover {', '.join(held)} only; an offer cannot grant {shown}."
