"""fingerprint: an article's title and text → the features that story clustering compares.

No I/O, no database. Three kinds of feature, one per question the story stage asks:

- *Is it a copy?* A MinHash signature of the text's 4-word shingles (datasketch), cut into LSH
  bands whose keys find near-duplicates with one indexed lookup.
- *Is it a rewrite of the same event?* Term counts of the title and lead (stemmed, stop words
  dropped) for TF-IDF, and the named things it is about (names, places, numbers), each weighted
  by where it appears: the title and first sentences say what a report is about.
- *Is it the very same text?* A hash of the normalised words.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import string
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import wordfreq
from datasketch import MinHash

from monitor.rules import normalize, stemming

NUM_PERM = 128
# 32 bands of 4 rows: datasketch's optimal split of 128 permutations for a Jaccard threshold of
# 0.5 when a missed copy weighs nine times a false candidate (`datasketch.lsh._optimal_param(0.5,
# 128, 0.1, 0.9)`, checked by a test): a missed copy can open a story of its own and alert
# again, a false candidate costs one signature comparison. A copy at Jaccard 0.55 is missed one
# time in 22 (one in 4 with the even split's 25 × 5), one at 0.64 one time in 360 (one in 17).
BANDS, ROWS = 32, 4
SHINGLE = 4  # words per shingle: with 5, a word changed in twenty left some wire copies under 0.5
LEAD_WORDS = 120  # the words of the text that count for TF-IDF, after the title
SHORT_TEXT_WORDS = 25  # fewer text words than this (beyond the title): shingle the title too
# Fewer words than this in title and text together is a headline-only item, scored on its words
# alone. A long "title" (a lead sentence, as some feeds give) carries names and numbers enough
# for the full score: scored as a headline, such items joined other events of their topic.
HEADLINE_ONLY_WORDS = 20
TITLE_WEIGHT = 2.0  # a title word counts as this many text words
# Salience of a named thing: where it appears counts on top of how often.
ENTITY_TITLE, ENTITY_LEAD, LEAD_CHARS = 3.0, 1.0, 300

_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=1)
_PERMUTATIONS = _TEMPLATE.permutations
# Words as clustering compares them: the rules' plain form (`rules.normalize`), and Snowball
# stems by language code (`rules.stemming`).
fold = normalize.plain
words = normalize.plain_words
stem = stemming.stem_in
_WORD = normalize.PLAIN_WORD


def _class(wanted: Callable[[str], bool]) -> str:
    """The characters of the Basic Multilingual Plane that are `wanted`, as a regex class body.
    (The planes above hold mathematical letters and old scripts, and made `re` scan three
    times slower.)"""
    ranges: list[list[int]] = []
    for code in range(0x10000):
        if wanted(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


def _capitals() -> str:
    """Every upper- and title-case letter (Latin, Greek, Cyrillic, Armenian, Georgian, …):
    `re` has no \\p{Lu}, and "[A-Z]" missed Évry, Ürümqi and every Russian name."""
    return _class(lambda c: c.isupper() or c.istitle())


# A capitalised word or acronym, or a number (keeping its inner separators: 1,400 / 2.6).
_NAMED = re.compile(f"[{_capitals()}][\\w'’\\-]*|\\d[\\d,.]*\\d|\\d")
_SENTENCE_END = re.compile(r"(?:[.!?:;\"“”—–]|['’]{2})\s*$")  # (a dateline dash too)

# English function words, and the words of reporting itself ("said", "told", "reported"): they
# say nothing about which event a report is about.
STOP_WORDS = frozenset(
    """a about above according across after afterwards again against ago all almost also although
    am among an and another any anyone are around as at be became because become been before being
    below between both but by can cannot could did do does doing done down during each either else
    even ever every few for former from further get gets got had has have having he her here hers
    herself him himself his how however i if in including into is it its itself just last late
    later latest like made make many may me meanwhile might more most mostly much must my myself
    near neither new news next no nor not now of off on once one only onto or other others our ours
    ourselves out over own per perhaps rather really reported reporter reports s said same say
    saying says see seen several she should since so some still such t than that the their theirs
    them themselves then there these they this those though three through thus to today told too
    toward towards two under until up upon us very via was we well were what whatever when where
    whether which while who whole whom whose why will with within without would year years yet you
    your yours yourself""".split()
)
# Capitalised words that name no event: days, months, titles and honorifics.
NOT_NAMES = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december jan feb mar apr jun jul aug sep sept oct
    nov dec mr mrs ms dr gov sen rep gen col lt sgt capt st prof president minister prime
    officials police update updated breaking live watch read more photos video""".split()
)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the story stage compares. `terms` and `entities` are raw weights (counts scaled by
    position); inverse document frequencies come from `priors` (`stories.idf`)."""

    text_hash: str
    signature: bytes  # NUM_PERM little-endian uint32 MinHash values; b"" when there are no words
    bands: tuple[int, ...]  # one signed 64-bit key per LSH band
    terms: dict[str, float]
    entities: dict[str, float]
    title_terms: tuple[str, ...]
    headline_only: bool
    # How likely an everyday text of news length in the article's language is to contain each
    # term or name (keyed "t:…"/"e:…"): what the term's IDF is computed from.
    priors: dict[str, float] = field(default_factory=dict)
    text_words: int = 0  # words in the text (beyond the title)
    language: str = "en"  # the `frequency_language` its words were stemmed and weighed in
    toll: int | None = None  # the number of dead the title (else the lead) states (`toll`)
    toll_rises: bool = False  # it says that toll has risen ("toll rises to 17", `_rises`)
    # The days of the week its title and lead name only as "Saturday's" (`weekdays`): the
    # day of an earlier happening it recalls, not the day of its own.
    recalled_days: frozenset[str] = frozenset()
    # Whether its title and lead recall an earlier happening ("a day after…", `recalls`).
    recalls: bool = False
    # The weekdays its title and lead name only inside a name ("Good Friday", "the Sunday
    # Times", `weekdays`): no day of any happening.
    name_days: frozenset[str] = frozenset()


DOC_WORDS = 400  # words in a typical article, for the chance that it contains a word
# wordfreq languages left out: their words need a tokeniser wordfreq does not bring (MeCab for
# Japanese and Korean, jieba for Chinese); their articles are weighed as English ones are.
_NEEDS_TOKENISER = frozenset({"ja", "ko", "zh"})
# Tags that name a language wordfreq lists under another code: Serbian, Croatian and Bosnian
# share its Serbo-Croatian list; Norwegian is Bokmål; old codes for Hebrew and Filipino.
_ALIASES = {"sr": "sh", "hr": "sh", "bs": "sh", "no": "nb", "nn": "nb", "iw": "he", "tl": "fil"}


@functools.lru_cache(maxsize=200_000)
def prior(word: str, language: str = "en") -> float:
    """The chance that a news-length text in `language` contains `word` (wordfreq's
    frequencies)."""
    return min(0.9, 1.0 - math.exp(-DOC_WORDS * wordfreq.word_frequency(word, language)))


DETECT_WORDS = 20  # fewer words than this: too few to tell a language by, weighed as English
DETECT_SURE = 0.9  # the detector's confidence needed to take its answer
_DETECT_CHARS = 300  # the title and this much of the text are read (the lead says enough)


def article_language(title: str, text: str, tag: str | None) -> str:
    """The `frequency_language` of an article: its tag when its feed or page gives one, else
    what the text looks like to py3langid (an article that says nothing is compared with
    others that do, and had they been weighed in two languages, one rewrite of an event would
    not have met the other). English when unsure: short items, or confidence under
    `DETECT_SURE`."""
    if tag:
        return frequency_language(tag)
    sample = f"{title}\n{text[:_DETECT_CHARS]}"
    if len(sample.split()) < DETECT_WORDS:
        return "en"
    found, sure = _detector().classify(sample)
    return frequency_language(found) if sure >= DETECT_SURE else "en"


@functools.cache
def _detector() -> Any:
    """py3langid's model, told only the languages wordfreq can weigh (so it never answers
    Nigerian Pidgin for an English headline)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    found = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    found.set_languages(sorted(c for c in found.labels if _ALIASES.get(c, c) in _weighable()))
    return found


@functools.cache
def _weighable() -> frozenset[str]:
    return frozenset(wordfreq.available_languages()) - _NEEDS_TOKENISER


@functools.lru_cache(maxsize=1_000)
def frequency_language(tag: str | None) -> str:
    """The language whose word frequencies weigh an article, from its language tag ("pt-BR",
    "fr_FR", "de"): English when the tag is missing or wordfreq has no list for it. Weighed as
    English, a Portuguese or German report shares its function words ("não", "der") with every
    other one at full weight, and unrelated reports look alike. Each language's list is loaded
    the first time an article in it arrives (30–130 MB of memory each, and it stays)."""
    code = (tag or "").strip().lower().replace("_", "-").split("-")[0]
    code = _ALIASES.get(code, code)
    return code if code in _weighable() else "en"


def content_terms(folded_words: list[str], language: str = "en") -> list[str]:
    """The stems of the words that carry meaning."""
    return [
        stem(w, language)
        for w in folded_words
        if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())
    ]


def text_hash(title: str, text: str) -> str:
    """Fingerprint of an article's words: identical reports hash alike whatever their markup,
    spacing, case or accents. A substantial body is enough on its own (outlets retitle wire
    copy); a short one is too generic, so the title is counted too."""
    basis = text if len(text) >= 200 else f"{title}\n{text}"
    return _hash(words(basis))


def _hash(folded_words: list[str]) -> str:
    return hashlib.sha256(" ".join(folded_words).encode()).hexdigest()


def signature(folded_words: list[str]) -> np.ndarray:
    """MinHash of the text's `SHINGLE`-word shingles (a short text's words as one shingle)."""
    k = min(SHINGLE, len(folded_words))
    shingles = {
        zlib.crc32(" ".join(folded_words[i : i + k]).encode())
        for i in range(len(folded_words) - k + 1)
    }
    sketch = MinHash(num_perm=NUM_PERM, permutations=_PERMUTATIONS, scheme="affine32", hashfunc=int)
    sketch.update_batch(shingles)
    return np.asarray(sketch.hashvalues, dtype="<u4")


def band_keys(values: np.ndarray) -> tuple[int, ...]:
    """One key per LSH band: two texts share a key when their signatures agree on a whole band,
    which happens with high probability when their shingle Jaccard similarity is above 0.5."""
    raw = values.astype("<u4", copy=False).tobytes()
    digests = []
    for hasher, start, end in _BANDS:
        digest = hasher.copy()
        digest.update(raw[start:end])
        digests.append(digest.digest())
    # Each 8-byte digest read as a little-endian signed integer, all at once.
    keys: list[int] = np.frombuffer(b"".join(digests), "<i8").tolist()
    return tuple(keys)


# One keyed hasher per band, copied for each signature (cheaper than setting one up each time),
# with the band's place in the signature's bytes.
_BANDS = [
    (
        hashlib.blake2b(digest_size=8, person=b"band%03d" % band),
        band * ROWS * 4,
        (band + 1) * ROWS * 4,
    )
    for band in range(BANDS)
]


def jaccard(a: bytes, b: bytes) -> float:
    """The shingle Jaccard similarity two signatures estimate."""
    if not a or not b or len(a) != len(b):
        return 0.0
    return float(np.count_nonzero(np.frombuffer(a, "<u4") == np.frombuffer(b, "<u4"))) / NUM_PERM


def named(text: str, *, title: bool = False, lead: int = 0, language: str = "en") -> Counter[str]:
    """Names, places and numbers in `text`, folded, with their counts (see `_named`)."""
    return _named(text, title=title, lead=lead, language=language)[0]


def _named(
    text: str,
    *,
    title: bool = False,
    lead: int = 0,
    language: str = "en",
    spellings: dict[str, str] | None = None,
) -> tuple[Counter[str], Counter[str]]:
    """Names, places and numbers in `text`, folded, with their counts; and the same for those
    that start within the first `lead` characters. Outside English a name is keyed by its stem:
    Russian and Polish decline names ("Москва", "в Москве", "Москвы" are one city). The first
    spelling of each key in the text goes into `spellings` (when given), for the name's prior.

    A capitalised word at the start of a sentence is counted only when the same word also appears
    capitalised mid-sentence ("Troops" starts a sentence; "Mosul" is a name wherever it is). In a
    title every capitalised word counts: headlines are often in title case.
    """
    found: Counter[str] = Counter()
    starts: Counter[str] = Counter()
    early: Counter[str] = Counter()
    previous: tuple[int, str] | None = None  # (end, folded word) of the last name
    for m in _NAMED.finditer(text):
        word = m.group(0)
        if word[0].isdigit():
            number = word.replace(",", "").rstrip(".")
            if len(number) > 1 and number.strip("0."):  # "7" and "000" say little
                found[number] += 1
                if m.start() < lead:
                    early[number] += 1
            previous = None
            continue
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        folded = fold(word).strip("'’-")
        if not folded or folded in STOP_WORDS or folded in NOT_NAMES:
            previous = None
            continue
        at_start = m.start() == 0 or _SENTENCE_END.search(text, max(0, m.start() - 4), m.start())
        counts = starts if at_start and not title else found
        key = skeleton(folded if language == "en" else stem(folded, language))
        counts[key] += 1
        if m.start() < lead:
            early[key] += 1
        if spellings is not None:
            spellings.setdefault(key, folded)
        if (
            previous is not None
            and m.start() - previous[0] == 1
            and text[previous[0]] in " -"
            and len(previous[1]) > 1  # not a one-letter word ("В Москве": "in Moscow")
        ):
            # "Tal Afar" is also "Talafar"/"Telafar"
            found[skeleton(previous[1] + folded)] += 1
        previous = (m.end(), folded)
    for key, n in starts.items():
        if key in found:
            found[key] += n
    return found, Counter({k: n for k, n in early.items() if k in found})


_VOWELS = str.maketrans("", "", "aeiouyh'’-")
_DOUBLES = re.compile(r"(.)\1+")


@functools.lru_cache(maxsize=100_000)
def skeleton(name: str) -> str:
    """A key that survives transliteration: consonants only, doubled letters once ("Telafar",
    "Tal Afar" → "tlfr"; "Fallujah", "Falluja" → "flj"). A short name (under three consonants)
    keeps its vowels, as its consonants alone would make Gaza Giza and Oman Amman, and loses
    only what its spellings add without changing a sound: a doubled letter, and the French "ou"
    for "u" ("Taizz" → "taiz", "Younis" → "yunis", "Douma" → "duma"). A short wire that spelt
    the town otherwise than its story's first report opened a story of its own."""
    consonants = _DOUBLES.sub(r"\1", name.translate(_VOWELS))
    if len(consonants) >= 3:
        return consonants
    return _DOUBLES.sub(r"\1", name).replace("ou", "u")


def entities(title: str, text: str, language: str = "en") -> dict[str, float]:
    """Named things with their salience: a mention in the title or the lead counts extra.
    `language` is a `frequency_language` code."""
    return _entities(title, text, language, {})


def _entities(title: str, text: str, language: str, spellings: dict[str, str]) -> dict[str, float]:
    """`entities`, and each name's first spelling in the article (the text's, else the
    title's) into `spellings`: the name's prior is read from the article alone, so a decision
    never depends on what the process met before."""
    whole, lead = _named(text, lead=LEAD_CHARS, language=language, spellings=spellings)
    weights: dict[str, float] = {k: float(n) for k, n in whole.items()}
    for key, n in lead.items():
        weights[key] = weights.get(key, 0.0) + ENTITY_LEAD * n
    in_title = _named(title, title=True, language=language, spellings=spellings)[0]
    if weights and _title_case(title):
        # "Army Retakes Key Town": capitalisation says nothing; keep the names the text has.
        in_title = Counter({k: n for k, n in in_title.items() if k in weights or k[0].isdigit()})
    for key, n in in_title.items():
        weights[key] = weights.get(key, 0.0) + ENTITY_TITLE * n
    return weights


# Words that state a number of dead (English stems) and the number words a toll is written in.
# Language, not knowledge of any corpus: "Car bomb kills 14", "nine dead", "toll rises to 17".
_DEATH = frozenset({"kill", "dead", "die", "death", "toll", "bodi", "slain", "massacr"})
_NUMBER_WORDS = {
    w: n
    for n, w in enumerate(
        """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
        fifteen sixteen seventeen eighteen nineteen twenty""".split()
    )
}
TOLL_REACH = 4  # words either side of a death word where its number may stand
_NOT_TOLL = frozenset({"year", "old", "month", "day", "hour", "week", "minut", "percent", "p"})
# A number before the first or after the second is a count of the wounded ("more than 40
# injured", "wounding 22"; but "kills 8, wounds 22" states 8 dead).
# "four more bodies" counts what was added, not the toll.
_NOT_DEAD_AFTER = frozenset({"injured", "wounded", "hurt", "more"})
_WOUNDED_BEFORE = frozenset({"wounding", "injuring", "wounds", "injures", "wounded", "injured"})
# Words that say a toll went up ("toll rises to 17", "bringing the toll to 13", "climbs to 12").
_RISE = frozenset({"rise", "rose", "risen", "climb", "reach", "mount", "bring", "rais", "jump"})


def toll(title_words: list[str], text_words: list[str], language: str = "en") -> int | None:
    """The number of dead a report states: the number nearest the first death word that has one
    within `TOLL_REACH` words, in the title if it has one, else in the lead (`LEAD_WORDS`; a
    report names its own dead before it recalls another attack's). Not a count of the wounded
    beside it. Not for other languages (None). Two reports of one event agree on it or the later
    one has more; a later report with fewer dead is of another event (`stories.features`)."""
    found = _toll_in(title_words, text_words, language)
    return found[0] if found is not None else None


def _rises(found: tuple[int, list[str], int] | None) -> bool:
    """Whether the report says its toll has gone up (`Fingerprint.toll_rises`): a word of rising
    (`_RISE`) within `TOLL_REACH` words of the toll's number ("toll rises to 17", "bringing the
    toll to 13"). Such a report is an update of an earlier one (`stories.update_of`)."""
    if found is None:
        return False
    _, part, j = found
    near = part[max(j - TOLL_REACH, 0) : j + TOLL_REACH + 1]
    return any(stem(w) in _RISE for w in near)


def _toll_in(
    title_words: list[str], text_words: list[str], language: str
) -> tuple[int, list[str], int] | None:
    """The toll, the words it was found in (the title or the lead) and its position there."""
    if language != "en":
        return None
    for part in (title_words, text_words[:LEAD_WORDS]):
        found = _toll(part)
        if found is not None:
            return found[0], part, found[1]
    return None


def _toll(folded: list[str]) -> tuple[int, int] | None:
    """The toll in `folded` and its position."""
    # Most titles and leads state no number at all: those are done before any word is stemmed.
    written = [(j, int(w) if w.isdigit() else _NUMBER_WORDS.get(w)) for j, w in enumerate(folded)]
    found = [(j, n) for j, n in written if n is not None and 0 < n < 100_000]
    if not found:
        return None
    stems = [stem(w) for w in folded]
    numbers: dict[int, int] = {}
    for j, n in found:
        beside = [k for k in (j - 1, j + 1) if 0 <= k < len(folded)]
        # not a clock time, a date or an age ("9 30 p m", "24 year old"), nor the wounded
        if not any(folded[k].isdigit() or stems[k] in _NOT_TOLL for k in beside) and not (
            (j + 1 < len(folded) and folded[j + 1] in _NOT_DEAD_AFTER)
            or (j > 0 and folded[j - 1] in _WOUNDED_BEFORE)
        ):
            numbers[j] = n
    if not numbers:
        return None
    for i, s in enumerate(stems):
        if s in _DEATH:
            # "death toll from the mosque bombing climbs to 12": a risen toll reaches further
            near = [
                j
                for j in numbers
                if abs(j - i) <= TOLL_REACH
                or (
                    i < j <= i + 3 * TOLL_REACH
                    and any(stem(w) in _RISE for w in folded[max(j - 3, 0) : j])
                )
            ]
            if near:
                j = min(near, key=lambda j: (abs(j - i), -j))
                return numbers[j], j
    return None


def _as_written(title: str, text: str, limit: int) -> dict[str, str]:
    """Folded word → the word in lower case as the title or the first `limit` words of the text
    write it (accents kept)."""
    out: dict[str, str] = {}
    for part, most in ((title, None), (text, limit)):
        for raw in _WORD.findall(unicodedata.normalize("NFC", part).casefold())[:most]:
            out.setdefault(fold(raw), raw)
    return out


def _title_case(title: str) -> bool:
    """True when (almost) every word of the title that is not a stop word is capitalised."""
    content = [w for w in re.findall(r"[^\W\d_][\w'’-]*", title) if w.lower() not in STOP_WORDS]
    capitalised = sum(1 for w in content if w[0].isupper())
    return len(content) >= 3 and capitalised >= len(content) - 1


WEEKDAY_NAMES = frozenset(
    {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
)


# Words that make a weekday part of a name rather than a date: before it, a feast or a market
# day ("Good Friday", "Black Friday", "Super Tuesday", "Bloody Sunday"); after it, a newspaper
# or an institution ("the Sunday Times", "Sunday school"); "the Mail on Sunday" is checked
# apart. "Friday prayers" and "Sunday night" are dates and stay.
DAY_NAME_BEFORE = frozenset(
    {"good", "black", "super", "bloody", "palm", "easter", "ash", "holy", "maundy", "cyber"}
    | {"whit", "shrove"}
)
DAY_NAME_AFTER = frozenset(
    {"times", "telegraph", "mirror", "express", "mail", "herald", "post", "people", "school"}
    | {"independent", "tribune", "observer"}
)


def weekdays(plain: Sequence[str]) -> tuple[frozenset[str], frozenset[str]]:
    """How `plain` (words as `words` gives them) names the days of the week it names, in one
    pass: the days named only in the possessive ("Saturday's drone strike", "after Wednesday's
    fire": the day of an earlier happening a report recalls, where "on Sunday" is its own), and
    the days named only inside a name (a feast, a market day, a newspaper: `DAY_NAME_BEFORE`,
    `DAY_NAME_AFTER`; "the Mail on Sunday" dates nothing). English only (the caller's words)."""
    possessive: set[str] = set()
    own: set[str] = set()
    inside: set[str] = set()
    dated: set[str] = set()
    for i, w in enumerate(plain):
        if w not in WEEKDAY_NAMES:
            continue
        before = plain[i - 1] if i else ""
        after = plain[i + 1] if i + 1 < len(plain) else ""
        (possessive if after == "s" else own).add(w)
        named = (
            before in DAY_NAME_BEFORE
            or after in DAY_NAME_AFTER
            or (before == "on" and i >= 2 and plain[i - 2] == "mail")
        )
        (inside if named else dated).add(w)
    return frozenset(possessive - own), frozenset(inside - dated)


# Words of time that, followed by "after", recall an earlier happening: "a day after", "hours
# after", "two days after", "a week after" ("minutes after" is the same happening's aftermath).
RECALL_SPANS = frozenset({"day", "days", "hours", "week", "weeks", "night"})


def recalls(plain: Sequence[str]) -> bool:
    """Whether `plain` (words as `words` gives them) recalls an earlier happening as the time
    before its own: "a day after shelling hit the camp…", "hours after the truce…", "following
    yesterday's strike…", "after last night's raid…". A report of a new happening opens so when
    it follows another in the same city; a later report of the same one may too ("hours after
    the blast, rescuers…"), which the score weighs with how alike the headlines are. English
    only (the caller's words)."""
    for i, w in enumerate(plain[:-1]):
        after = plain[i + 1]
        if w in RECALL_SPANS and after == "after":
            return True
        if after == "s" and (w == "yesterday" or (w == "night" and i and plain[i - 1] == "last")):
            return True
    return False


# A recalled clause: from the cue ("a day after", "two days after", "hours after", "following
# yesterday's", "after last night's") to the end of its clause (a comma, a stop, a dash, a
# bracket; not the comma or point inside "1,400", "6.8" or "U.S."), at most `RECALL_WORDS`
# words on: a longer one is not a clause this can bound ("Two days after the truce took effect
# militants killed 12…"), and is left whole. Written by hand: a sentence parser would find the
# clause more surely, but none runs at thousands of articles a second. Each "after" and
# "following" is found first (a plain search), then the words about it are read: an
# expression tried at every word of every text cost a sixth of the fingerprint.
RECALL_WORDS = 15
_QUANTITY = r"\b(?:the|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|few|\d+)\s+"
# "night" only after a word of quantity: "a night after the raid" recalls, "died on Wednesday
# night after being struck" tells its own happening's cause.
_SPAN_BEFORE = re.compile(
    r"(?:\b(?:only|just|barely|some)\s+)?"
    rf"(?:(?:{_QUANTITY})?\b(?:"
    + "|".join(sorted(RECALL_SPANS - {"night"}))
    + rf")|{_QUANTITY}night)\s+$"
)
_DAY_BEFORE = re.compile(r"(?:following|after)\s+(?:yesterday|last\s+night)['’]s\b")
# A duration, not a recall: "the biggest loss in 5 weeks after weak data", "for hours after".
_DURATION_BEFORE = re.compile(r"\b(?:in|for|of|within|over|than)\s+$")
# Not the point of an abbreviation ("U.S.", "Mt. Gox", "Gen. Haftar") nor of a number ("6.8").
_CLAUSE_END = re.compile(
    r"[;:!?()\[\]\n—–]|,(?!\d)|(?<!\b[A-Za-z])(?<!\b[A-Z][a-z])(?<!\b[A-Z][a-z]{2})\.(?!\d)"
)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def own_part(text: str) -> str:
    """`text` without the earlier happenings it recalls ("A day after shelling killed 14 in a
    nearby camp, a drone struck the hospital" → ", a drone struck the hospital"): a report of
    a new happening in a city that had another the day before retells the first in its lead,
    and those words, names and dead are the earlier story's, not its own. English cues only;
    the report's words for its copies (shingles, hash) keep the whole text. A clause that runs
    to the end of a text it opens is left (a headline "Day After Blast Kills 14" is all news)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lower case is longer ("İ"): keep positions
        lowered = text.translate(_ASCII_LOWER)
    parts: list[str] = []
    start = 0
    for at in sorted(_found(lowered, "after") + _found(lowered, "following")):
        if at < start or (at and lowered[at - 1].isalnum()):
            continue
        span = _SPAN_BEFORE.search(lowered, max(start, at - 40), at)
        if span is not None and lowered.startswith("after", at):
            cue, cue_end = span.start(), at + len("after")
            if lowered[cue_end : cue_end + 1].isalnum() or _DURATION_BEFORE.search(
                lowered, max(0, cue - 8), cue
            ):
                continue
        else:
            day = _DAY_BEFORE.match(lowered, at)
            if day is None:
                continue
            cue, cue_end = at, day.end()
        found = _CLAUSE_END.search(text, cue_end)
        end = found.start() if found is not None else len(text)
        if len(text[cue_end:end].split()) > RECALL_WORDS or (
            found is None and not text[start:cue].strip()
        ):
            continue
        parts.append(text[start:cue])
        start = end
    if not parts:
        return text
    parts.append(text[start:])
    return " ".join(parts)


def _found(text: str, word: str) -> list[int]:
    """Where `word` starts in `text` (a plain search, as part of a word too)."""
    out = []
    at = text.find(word)
    while at >= 0:
        out.append(at)
        at = text.find(word, at + 1)
    return out


def fingerprint(
    title: str, text: str, *, shingles: bool = True, language: str | None = None
) -> Fingerprint:
    """All the features of one article. The text should not repeat the title. Without
    `shingles` there is no MinHash signature and no band keys (story repair needs only the
    words and names). `language` is the article's language tag, when it has one (see
    `article_language`)."""
    lang = article_language(title, text, language)
    title_words = words(title)
    text_words = words(text)
    # What it tells of itself weighs; what it recalls of an earlier happening does not
    # (`own_part`). Its copies are found by all of its words.
    own_title, own_text = (own_part(title), own_part(text)) if lang == "en" else (title, text)
    own_title_words = title_words if own_title is title else words(own_title)
    own_text_words = text_words if own_text is text else words(own_text)
    title_terms = content_terms(own_title_words, lang)
    lead = content_terms(own_text_words[: LEAD_WORDS * 2], lang)[:LEAD_WORDS]
    terms: dict[str, float] = {}
    for t in title_terms:
        terms[t] = terms.get(t, 0.0) + TITLE_WEIGHT
    for t in lead:
        terms[t] = terms.get(t, 0.0) + 1.0
    shingled = text_words if len(text_words) >= SHORT_TEXT_WORDS else title_words + text_words
    values = signature(shingled) if shingled and shingles else None
    spellings: dict[str, str] = {}
    names = _entities(title, text, lang, spellings)
    if own_title is not title or own_text is not text:
        # The places and people of what it recalls stay (a second attack is in the same city,
        # often named only there); its numbers (the earlier dead) go.
        own_names = _entities(own_title, own_text, lang, {})
        names = {k: w for k, w in names.items() if not k[0].isdigit() or k in own_names}
    # Frequency lists spell words with their accents ("não", not "nao"): look each word up as
    # written. English words rarely carry any, and the English path stays as fast as it was.
    written = _as_written(title, text, LEAD_WORDS * 2) if lang != "en" else {}
    priors: dict[str, float] = {}
    for w in {*own_title_words, *own_text_words[: LEAD_WORDS * 2]}:
        key = "t:" + stem(w, lang)
        priors[key] = max(priors.get(key, 0.0), prior(written.get(w, w), lang))
    for key in names:
        spelling = spellings.get(key, key)
        priors["e:" + key] = prior(written.get(spelling, spelling), lang)
    dead = _toll_in(own_title_words, own_text_words, lang)
    # The title and lead, for the days they name and what they recall (English words only).
    opening = title_words + text_words[: LEAD_WORDS * 2] if lang == "en" else []
    recalled, named = weekdays(opening)
    return Fingerprint(
        # text_hash(title, text) without folding the text again: the words of "title\ntext"
        # are the title's then the text's.
        text_hash=_hash(text_words if len(text) >= 200 else title_words + text_words),
        signature=values.tobytes() if values is not None else b"",
        bands=band_keys(values) if values is not None else (),
        terms=terms,
        entities=names,
        title_terms=tuple(dict.fromkeys(title_terms)),
        headline_only=len(title_words) + len(text_words) < HEADLINE_ONLY_WORDS,
        priors=priors,
        text_words=len(text_words),
        language=lang,
        toll=dead[0] if dead is not None else None,
        toll_rises=_rises(dead),
        recalled_days=recalled,
        recalls=recalls(opening),
        name_days=named,
    )
