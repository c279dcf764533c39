"""Anchors, ids and languages: the small text helpers every content parser shares (Markdown is parsers.markdown's)."""

from __future__ import annotations

import re
import unicodedata

# --- anchors and ids -----------------------------------------------------------------------


def anchor(heading_text: str) -> str:
    """The anchor a static site generator gives a heading's text (GitHub style, as Jekyll's kramdown-GFM and
    Hugo's Goldmark make it: lowercase, letters with their accents kept, punctuation dropped)."""
    text = heading_text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return re.sub(r"\s", "-", text.strip())


def slug(text: str) -> str:
    """An ASCII, readable id part: ``Émilie Durand, Société Générale`` → ``emilie-durand-societe-generale``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def word_set(words: str) -> frozenset[str]:
    """A set of words written as one space-separated string (long word lists stay readable)."""
    return frozenset(words.split())


# --- languages -------------------------------------------------------------------------------

#: ISO 639-2/3 codes and common names seen in talk metadata → ISO 639-1.
_LANGUAGE_CODES = {
    "eng": "en", "english": "en", "anglais": "en",
    "fra": "fr", "fre": "fr", "french": "fr", "français": "fr", "francais": "fr",
    "spa": "es", "spanish": "es", "español": "es",
    "por": "pt", "portuguese": "pt",
    "ita": "it", "italian": "it",
    "deu": "de", "ger": "de", "german": "de", "deutsch": "de",
    "nld": "nl", "dut": "nl", "dutch": "nl",
    "rus": "ru", "russian": "ru",
    "pol": "pl", "polish": "pl",
    "ces": "cs", "cze": "cs", "slk": "sk", "slo": "sk",
    "lit": "lt", "lav": "lv", "est": "et", "fin": "fi", "swe": "sv", "nor": "no", "dan": "da",
    "ukr": "uk", "hun": "hu", "ron": "ro", "rum": "ro", "ell": "el", "gre": "el", "tur": "tr",
    "jpn": "ja", "japanese": "ja", "kor": "ko", "korean": "ko", "zho": "zh", "chi": "zh", "chinese": "zh",
    "tha": "th", "vie": "vi", "ind": "id", "hin": "hi", "ara": "ar", "heb": "he", "fas": "fa", "per": "fa",
    "eus": "eu", "baq": "eu", "glg": "gl", "cat": "ca",
}  # fmt: skip


def normalize_language(value: object) -> str:
    """``fra``, ``FR``, ``fr-CA``, ``French`` → ``fr``; "" when there is no usable code."""
    if not isinstance(value, str):
        return ""
    code = value.strip().lower().replace("_", "-").split("-")[0]
    if code in _LANGUAGE_CODES:
        return _LANGUAGE_CODES[code]
    if len(code) == 2 and code.isalpha() and code.isascii():
        return code
    if len(code) == 3 and code.isalpha() and code.isascii():
        return code  # an ISO 639-3 code we have no short form for: still a language, kept as given
    return ""


_FRENCH_MARKERS = word_set(
    "les des du une et est pour dans avec qui sur pas nous vous cette ces aux sont être etre où plus votre notre "
    "leur leurs ils elle elles mais comme aussi très tres sans donc alors faire fait peut tout tous toutes "
    "cela ça ceci chez depuis était avons avez ont sera nos vos quand lorsque comment pourquoi"
)
_FRENCH_ELISIONS = re.compile(r"\b(?:l|d|qu|c|n|j|s|m|t)['’]\w", re.IGNORECASE)
_ENGLISH_MARKERS = word_set(
    "the and of to is in for with that this on are you we how what why from your our can will be have has "
    "it its was were by an at which not they their these those about into using use"
)
_OTHER_MARKERS = word_set(
    "el los las y con para por una del um uma não nao com di che per gli und der die das ist ein eine nicht mit"
)
_WORD = re.compile(r"[^\W\d_]+")


def detect_language(text: str) -> str:
    """``fr``, ``en`` or "" (unsure), by counting function words the two languages do not share.

    Words French shares with Spanish, Portuguese or Italian (``de``, ``la``, ``que`` …) are left
    out so that those languages are not taken for French; text in any other language is left
    unlabelled and still indexed.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return ""
    french = sum(w in _FRENCH_MARKERS for w in words) + len(_FRENCH_ELISIONS.findall(text))
    english = sum(w in _ENGLISH_MARKERS for w in words)
    other = sum(w in _OTHER_MARKERS for w in words)
    if french >= 3 and french > 1.5 * english and french > 1.5 * other:
        return "fr"
    if english >= 3 and english > 1.5 * french and english > 1.5 * other:
        return "en"
    return ""
