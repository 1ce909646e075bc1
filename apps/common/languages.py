"""Languages by their ISO 639-1 code (what requests and the config name): the English name (what
`/translate/languages` lists and T5's task prefix says) and the codes multilingual models use for
them (NLLB's FLORES-200 codes; M2M100 writes `__<639-1>__`; multilingual OPUS models `>>xxx<<`
with ISO 639-3). `zt` is LibreTranslate's code for Chinese in traditional script."""

from __future__ import annotations

from typing import NamedTuple


class Language(NamedTuple):
    name: str
    flores: str  # NLLB-200's token, e.g. "fra_Latn"
    iso3: str  # ISO 639-3, as multilingual OPUS-MT models write their target token (">>fra<<")


LANGUAGES: dict[str, Language] = {
    "ar": Language("Arabic", "arb_Arab", "ara"),
    "az": Language("Azerbaijani", "azj_Latn", "aze"),
    "bg": Language("Bulgarian", "bul_Cyrl", "bul"),
    "bn": Language("Bengali", "ben_Beng", "ben"),
    "ca": Language("Catalan", "cat_Latn", "cat"),
    "cs": Language("Czech", "ces_Latn", "ces"),
    "da": Language("Danish", "dan_Latn", "dan"),
    "de": Language("German", "deu_Latn", "deu"),
    "el": Language("Greek", "ell_Grek", "ell"),
    "en": Language("English", "eng_Latn", "eng"),
    "eo": Language("Esperanto", "epo_Latn", "epo"),
    "es": Language("Spanish", "spa_Latn", "spa"),
    "et": Language("Estonian", "est_Latn", "est"),
    "eu": Language("Basque", "eus_Latn", "eus"),
    "fa": Language("Persian", "pes_Arab", "fas"),
    "fi": Language("Finnish", "fin_Latn", "fin"),
    "fr": Language("French", "fra_Latn", "fra"),
    "ga": Language("Irish", "gle_Latn", "gle"),
    "gl": Language("Galician", "glg_Latn", "glg"),
    "he": Language("Hebrew", "heb_Hebr", "heb"),
    "hi": Language("Hindi", "hin_Deva", "hin"),
    "hu": Language("Hungarian", "hun_Latn", "hun"),
    "id": Language("Indonesian", "ind_Latn", "ind"),
    "it": Language("Italian", "ita_Latn", "ita"),
    "ja": Language("Japanese", "jpn_Jpan", "jpn"),
    "ko": Language("Korean", "kor_Hang", "kor"),
    "lt": Language("Lithuanian", "lit_Latn", "lit"),
    "lv": Language("Latvian", "lvs_Latn", "lav"),
    "ms": Language("Malay", "zsm_Latn", "msa"),
    "nb": Language("Norwegian Bokmål", "nob_Latn", "nob"),
    "nl": Language("Dutch", "nld_Latn", "nld"),
    "pl": Language("Polish", "pol_Latn", "pol"),
    "pt": Language("Portuguese", "por_Latn", "por"),
    "ro": Language("Romanian", "ron_Latn", "ron"),
    "ru": Language("Russian", "rus_Cyrl", "rus"),
    "sk": Language("Slovak", "slk_Latn", "slk"),
    "sl": Language("Slovenian", "slv_Latn", "slv"),
    "sq": Language("Albanian", "als_Latn", "sqi"),
    "sv": Language("Swedish", "swe_Latn", "swe"),
    "th": Language("Thai", "tha_Thai", "tha"),
    "tl": Language("Tagalog", "tgl_Latn", "tgl"),
    "tr": Language("Turkish", "tur_Latn", "tur"),
    "uk": Language("Ukrainian", "ukr_Cyrl", "ukr"),
    "ur": Language("Urdu", "urd_Arab", "urd"),
    "vi": Language("Vietnamese", "vie_Latn", "vie"),
    "zh": Language("Chinese", "zho_Hans", "zho"),
    "zt": Language("Chinese (traditional)", "zho_Hant", "zho"),
}


def language_name(code: str) -> str:
    """The English name of `code` (the code itself for one this table lacks)."""
    language = LANGUAGES.get(code)
    return language.name if language else code
