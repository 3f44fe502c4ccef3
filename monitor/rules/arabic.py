"""arabic: the Arabic-script letters folded for matching, and the one-letter words glued to a name.

Arabic writes "and", "in", "to", "so" and "like" (و ب ل ف ك) as prefixes of the next word, so
"in Mosul" is بالموصل, one word. A term in Arabic script therefore also matches with those prefixes;
the letter folding follows common Arabic search practice (Lucene's ArabicNormalizer).
"""

from __future__ import annotations

# Hamza and madda forms of alef, alef wasla → bare alef; alef maqsura → ya; ta marbuta → ha;
# Persian/Urdu ya and kaf → Arabic ones; tatweel (the stretching stroke) → nothing.
FOLD: dict[str, str] = {
    "\u0622": "\u0627",
    "\u0623": "\u0627",
    "\u0625": "\u0627",
    "\u0671": "\u0627",
    "\u0649": "\u064a",
    "\u0629": "\u0647",
    "\u06cc": "\u064a",
    "\u06a9": "\u0643",
    "\u0640": "",
}

_PROCLITICS = ("و", "ب", "ل", "ف", "ك", "وب", "ول", "فب", "فل", "وك")
_DEFINITE = "ال"


def is_arabic(ch: str) -> bool:
    return "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f" or "\u08a0" <= ch <= "\u08ff"


def with_proclitics(word: str) -> list[str]:
    """`word` and its forms with the prefixes و ب ل ف ك (and their pairs) glued on.

    ل before the article ال drops the alef: ل + الموصل → للموصل.
    """
    if not word or not is_arabic(word[0]):
        return [word]
    forms = [word]
    for prefix in _PROCLITICS:
        if prefix.endswith("ل") and word.startswith(_DEFINITE):
            forms.append(prefix + word[1:])
        else:
            forms.append(prefix + word)
    return forms
