"""The query mix: fixed, versioned files drawn from a corpus' own vocabulary, never from an engine.

``draw_query_mix`` reads only the records (word document frequencies, title word pairs, the talks'
years/events/languages/speakers) and a seed; no engine is consulted, so no engine can be favoured.
The committed files under ``bench/mixes/`` are what every run uses; ``python -m bench queries``
regenerates them, and the ``version`` inside must be bumped whenever the algorithm changes.

A query is ``{"kind": ..., "params": {...}}`` where params are /api/search parameters: ``q`` plus
facet filters as lists (``year``, ``event``, ``lang``, ``speaker``) and ``page``.

Version 2 keeps version 1's seven kinds, drawn exactly as before (same seed, same draws), and adds
the shapes real visitors type that version 1 under-sampled, each by a rule over the corpus' own
statistics (``SHAPE_RULES`` says which): very common words, two words of which one is common,
two-letter prefixes, phrases of common title words, filters on the biggest events, queries made
only of stop words, and words of the corpus' other language (French in an English corpus and the
other way round; a one-language corpus has none, and its mix has no such queries).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import unicodedata
from collections import Counter
from pathlib import Path

from bench.corpus import Corpus, lang_of, year_of

MIX_VERSION = 2
#: The random stream every mix version draws from: version 2 adds kinds after version 1's draws.
MIX_SEED = 1
MIXES = Path(__file__).resolve().parent / "mixes"
KINDS = (
    "one_word", "several_words", "phrase", "prefix", "typo", "filtered", "browse",
    "common_word", "common_pair", "short_prefix", "common_phrase", "big_event", "stop_words", "other_language",
)  # fmt: skip
#: How each kind added in version 2 is drawn (printed in docs/benchmarks.md's method section).
SHAPE_RULES = {
    "common_word": "a word in at least COMMON_SHARE of the talks (not a function word)",
    "common_pair": "a common word and a one_word topic word, in random order",
    "short_prefix": "the first two letters of a content word drawn by document frequency, then *",
    "common_phrase": "two adjacent title words both among the COMMON_TITLE_TOKENS most frequent title "
    "tokens (function words included, not both function words), quoted, as typed",
    "big_event": "a topic or common word, filtered on one of the BIG_EVENTS largest events (a quarter also on "
    "its language)",
    "stop_words": "one to three of the STOP_POOL most frequent function words of the corpus",
    "other_language": "one or two words found mostly (OTHER_SHARE) in the talks of the corpus' minority "
    "language, French or English",
}
COMMON_SHARE = 0.04
COMMON_TITLE_TOKENS = 200
BIG_EVENTS = 10
STOP_POOL = 60
OTHER_SHARE = 0.6
OTHER_POOL = 300
PER_KIND = 50

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
# Words nobody types as a search: English and French function words, plus web boilerplate.
_STOP_EN = frozenset(
    str.split(
        """a about after all also an and any are as at be been but by can could did do does for from had has have
    he her his how i if in into is it its just me more most my no not of on one or our out over so some such
    than that the their them then there these they this those through to too up us was we were what when where
    which who will with would you your"""
    )
)
_STOP_FR = frozenset(
    str.split(
        """au aux avec ce ces cette dans de des du elle en est et il ils je la le les leur lui ma mais me mes moi mon
    ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous
    été être fait sont plus comme tout très bien aussi peut"""
    )
)
_BOILERPLATE = frozenset(str.split("talk talks video videos http https www com org html youtube"))
# Words nobody types as a topic: English and French function words, plus web boilerplate.
_STOP = _STOP_EN | _STOP_FR | _BOILERPLATE
# Letters next to each other on QWERTY and AZERTY keyboards: the substitutions people really make.
_NEIGHBOURS = {
    "a": "qszw", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc", "g": "ftyhbv",
    "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kopm", "m": "njkl", "n": "bhjm",
    "o": "iklp", "p": "olm", "q": "wasz", "r": "edft", "s": "awedxz", "t": "rfgy", "u": "yhji",
    "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}  # fmt: skip


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _content_word(word: str) -> bool:
    return len(word) >= 3 and word not in _STOP and "'" not in word and "’" not in word


def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")


def draw_query_mix(corpus: Corpus, per_kind: int = PER_KIND, seed: int = MIX_SEED) -> dict:
    """``per_kind`` queries of each kind, from the corpus' vocabulary, deterministic for (corpus, seed)."""
    rng = random.Random(f"{corpus.name}:{seed}")
    records = corpus.records
    every_word = [set(words_of(f"{r['title']} {r.get('summary', '')}")) for r in records]
    doc_words = [set(filter(_content_word, words)) for words in every_word]
    df = Counter(w for words in doc_words for w in words)
    # ties broken by the word itself: set order varies with PYTHONHASHSEED, the mix must not
    ranked = sorted((w for w in df if df[w] >= 3), key=lambda w: (-df[w], w))
    # Popular topics (ranks 20-600) and the long tail (600-5000): users type both.
    head, tail = ranked[20:600], ranked[600:5000] or ranked[20:]
    vocabulary = set(df)

    def topic_word() -> str:
        return rng.choice(head if rng.random() < 0.6 else tail)

    def title_words(min_words: int) -> tuple[dict, list[str]]:
        while True:
            record = rng.choice(records)
            words = [w for w in words_of(record["title"]) if _content_word(w)]
            if len(words) >= min_words:
                return record, words

    queries: list[dict] = []

    def add(kind: str, **params) -> None:
        queries.append({"kind": kind, "params": params})

    for _ in range(per_kind):
        add("one_word", q=topic_word())
    for _ in range(per_kind):
        _, words = title_words(2)
        count = min(len(words), rng.choice((2, 2, 3)))
        start = rng.randrange(len(words) - count + 1)
        add("several_words", q=" ".join(words[start : start + count]))
    for _ in range(per_kind):
        while True:
            record = rng.choice(records)
            tokens = [w.lower() for w in re.findall(r"[^\W_]+", record["title"])]  # digits break phrases
            pairs = [(a, b) for a, b in itertools.pairwise(tokens) if _content_word(a) and _content_word(b)]
            if pairs:
                add("phrase", q='"{} {}"'.format(*rng.choice(pairs)))
                break
    for _ in range(per_kind):
        word = rng.choice([w for w in head if len(w) >= 6])
        add("prefix", q=word[: rng.randint(3, 5)] + "*")
    for _ in range(per_kind):
        word = rng.choice([w for w in head + tail[:1500] if len(w) >= 5])
        typo = _typo(word, vocabulary, rng)
        if rng.random() < 0.3:
            add("typo", q=f"{topic_word()} {typo}")
        else:
            add("typo", q=typo)
    for _ in range(per_kind):
        record, words = title_words(1)
        filters = _filters_of(record, rng)
        add("filtered", q=rng.choice(words), **filters)
    for n in range(per_kind):
        record = rng.choice(records)
        filters = _filters_of(record, rng) if n % 4 else {}
        add("browse", q="", **filters, **({"page": 2} if n % 7 == 3 else {}))
    for kind, params in _widened(records, every_word, doc_words, df, head + tail, rng, per_kind):
        add(kind, **params)
    return {
        "version": MIX_VERSION,
        "corpus": corpus.name,
        "talks": len(records),
        "seed": seed,
        "per_kind": per_kind,
        "how": "drawn by bench/queries.py from word document frequencies, title words and talk facets; "
        "no engine consulted",
        "rules": SHAPE_RULES,
        "queries": queries,
    }


def _widened(
    records: list[dict],
    every_word: list[set[str]],
    doc_words: list[set[str]],
    df: Counter,
    topics: list[str],
    rng: random.Random,
    per_kind: int,
) -> list[tuple[str, dict]]:
    """The kinds added in version 2 (see ``SHAPE_RULES``), ``per_kind`` each, in ``KINDS`` order."""
    out: list[tuple[str, dict]] = []
    ranked = sorted(df, key=lambda w: (-df[w], w))
    common = [w for w in ranked if df[w] >= COMMON_SHARE * len(records)] or ranked[:20]
    for _ in range(per_kind):
        out.append(("common_word", {"q": rng.choice(common)}))
    for _ in range(per_kind):
        pair = [rng.choice(common), rng.choice(topics)]
        rng.shuffle(pair)
        out.append(("common_pair", {"q": " ".join(pair)}))
    lettered = [w for w in ranked[:5000] if w[:2].isalpha()]
    weights = [df[w] for w in lettered]
    for _ in range(per_kind):
        out.append(("short_prefix", {"q": rng.choices(lettered, weights)[0][:2] + "*"}))
    title_tokens = [[t for t in re.findall(r"[^\W_]+", r["title"])] for r in records]
    title_df = Counter(t.lower() for tokens in title_tokens for t in set(tokens))
    frequent = {t for t, _ in sorted(title_df.items(), key=lambda item: (-item[1], item[0]))[:COMMON_TITLE_TOKENS]}
    phrases = sorted(
        {
            f"{a} {b}"
            for tokens in title_tokens
            for a, b in itertools.pairwise(tokens)
            if a.lower() in frequent
            and b.lower() in frequent
            and not (a.lower() in _STOP and b.lower() in _STOP)
            and not (a + b).isdigit()
            and a.lower() != b.lower()
        }
    )
    for _ in range(per_kind if phrases else 0):
        out.append(("common_phrase", {"q": f'"{rng.choice(phrases)}"'}))
    events = Counter(r["event"] for r in records if r.get("event"))
    big = [e for e, _ in sorted(events.items(), key=lambda item: (-item[1], item[0]))[:BIG_EVENTS]]
    event_langs = {e: Counter(lang_of(r) for r in records if r.get("event") == e).most_common(1)[0][0] for e in big}
    for n in range(per_kind if big else 0):
        event = rng.choice(big)
        params: dict = {"q": rng.choice(common if n % 2 else topics), "event": [event]}
        if n % 4 == 3 and event_langs[event]:
            params["lang"] = [event_langs[event]]
        out.append(("big_event", params))
    function_words = _STOP_EN | _STOP_FR
    stop_df = Counter(w for words in every_word for w in words & function_words)
    stops = sorted(stop_df, key=lambda w: (-stop_df[w], w))[:STOP_POOL]
    for _ in range(per_kind if stops else 0):
        out.append(("stop_words", {"q": " ".join(rng.sample(stops, rng.choice((1, 1, 2, 2, 3))))}))
    other = _other_language_words(records, doc_words, df)
    for _ in range(per_kind if other else 0):
        out.append(("other_language", {"q": " ".join(rng.sample(other, rng.choice((1, 1, 1, 2))))}))
    return out


def _other_language_words(records: list[dict], doc_words: list[set[str]], df: Counter) -> list[str]:
    """Content words of the minority language of French and English, most frequent first ([] when absent)."""
    langs = Counter(lang_of(r) for r in records)
    other = "fr" if langs["en"] >= langs["fr"] else "en"
    in_other = Counter(w for r, words in zip(records, doc_words, strict=True) if lang_of(r) == other for w in words)
    found = [w for w, n in in_other.items() if n >= 3 and len(w) >= 4 and n >= OTHER_SHARE * df[w]]
    found.sort(key=lambda w: (-in_other[w], w))
    return found[:OTHER_POOL] if len(found) >= 20 else []


def _typo(word: str, vocabulary: set[str], rng: random.Random) -> str:
    """One realistic slip: a missing accent, dropped, doubled, swapped or neighbouring letter."""
    folded = _strip_accents(word)
    if folded != word and folded not in vocabulary and rng.random() < 0.6:
        return folded
    for _ in range(20):
        i = rng.randrange(1, len(word) - 1)
        edit = rng.choice(("drop", "double", "swap", "neighbour"))
        if edit == "drop":
            candidate = word[:i] + word[i + 1 :]
        elif edit == "double":
            candidate = word[:i] + word[i] + word[i:]
        elif edit == "swap":
            candidate = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        else:
            near = _NEIGHBOURS.get(word[i], "")
            candidate = word[:i] + rng.choice(near) + word[i + 1 :] if near else word
        if candidate != word and candidate not in vocabulary:
            return candidate
    return word[:-1]


def _filters_of(record: dict, rng: random.Random) -> dict:
    """One or two facet filters that the record itself satisfies, so the query finds something."""
    options = {}
    if year_of(record):
        options["year"] = [str(year_of(record))]
    if record.get("event"):
        options["event"] = [record["event"]]
    if lang_of(record):
        options["lang"] = [lang_of(record)]
    if record.get("speakers"):
        options["speaker"] = [rng.choice(record["speakers"])]
    keys = sorted(options)
    chosen = rng.sample(keys, min(len(keys), 2 if rng.random() < 0.25 else 1))
    return {k: options[k] for k in sorted(chosen)}


def sanity_query(corpus: Corpus) -> dict | None:
    """A title word found in exactly one talk, so every engine's top hit must be that talk.

    The lexicographically first such word (ASCII letters, 5+ long), for a deterministic choice; None if none.
    """
    df: Counter = Counter()
    for record in corpus.records:
        text = " ".join(
            [record["title"], record.get("summary", ""), record.get("event", ""), *record.get("speakers", []),
             *record.get("tags", [])]
        )  # fmt: skip
        df.update(set(words_of(text)))
    best = None
    for record in corpus.records:
        for word in words_of(record["title"]):
            if (
                df[word] == 1
                and len(word) >= 5
                and word.isascii()
                and _content_word(word)
                and (not best or word < best[0])
            ):
                best = (word, record["id"])
    return {"q": best[0], "expected": best[1]} if best else None


def mix_path(corpus_name: str) -> Path:
    return MIXES / f"{corpus_name}-v{MIX_VERSION}.json"


def load_query_mix(corpus: Corpus, per_kind: int | None = None) -> dict:
    """The committed mix for this corpus; for a corpus without one, a mix drawn now (``"file"`` is None)."""
    path = mix_path(corpus.name)
    if path.exists():
        mix = json.loads(path.read_text(encoding="utf-8")) | {"file": str(path)}
    else:
        mix = draw_query_mix(corpus) | {"file": None}
    if per_kind is not None and per_kind < mix["per_kind"]:
        mix = dict(mix, per_kind=per_kind, queries=_first_of_each_kind(mix["queries"], per_kind))
    return mix


def read_mix_file(path: Path, per_kind: int | None = None) -> dict:
    """Any mix in the committed format (``version``, ``queries: [{kind, params}]``), e.g. a held-out one.

    Raises ``ValueError`` saying what is wrong with the file.
    """
    try:
        mix = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable JSON mix ({error})") from error
    queries = mix.get("queries") if isinstance(mix, dict) else None
    if not isinstance(queries, list) or "version" not in mix:
        raise ValueError(f"{path}: a mix is an object with 'version' and a list of 'queries'")
    for n, query in enumerate(queries):
        well_formed = isinstance(query, dict) and isinstance(query.get("kind"), str)
        if not (well_formed and isinstance(query.get("params"), dict)):
            raise ValueError(f"{path}: query {n} is not {{'kind': str, 'params': {{...}}}}")
    if not queries:
        raise ValueError(f"{path}: the mix has no queries")
    largest = max(Counter(q["kind"] for q in queries).values())
    mix = dict(mix, file=str(path), per_kind=mix.get("per_kind", largest))
    if per_kind is not None and per_kind < mix["per_kind"]:
        mix = dict(mix, per_kind=per_kind, queries=_first_of_each_kind(queries, per_kind))
    return mix


def kinds_of(queries: list[dict]) -> list[str]:
    """The kinds present, in ``KINDS`` order, then any other kind (a held-out mix's own) by first appearance."""
    present = dict.fromkeys(q["kind"] for q in queries)
    return [k for k in KINDS if k in present] + [k for k in present if k not in KINDS]


def _first_of_each_kind(queries: list[dict], per_kind: int) -> list[dict]:
    seen: Counter = Counter()
    kept = []
    for query in queries:
        if seen[query["kind"]] < per_kind:
            seen[query["kind"]] += 1
            kept.append(query)
    return kept


def save_query_mix(mix: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mix, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
