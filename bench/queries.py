"""The query mix: fixed, versioned files drawn from a corpus' own vocabulary, never from an engine.

``draw_query_mix`` reads only the records (word document frequencies, title word pairs, the talks'
years/events/languages/speakers) and a seed; no engine is consulted, so no engine can be favoured.
The committed files under ``bench/mixes/`` are what every run uses; ``python -m bench queries``
regenerates them, and the ``version`` inside must be bumped whenever the algorithm changes.

A query is ``{"kind": ..., "params": {...}}`` where params are /api/search parameters: ``q`` plus
facet filters as lists (``year``, ``event``, ``lang``, ``speaker``) and ``page``.
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

MIX_VERSION = 1
MIXES = Path(__file__).resolve().parent / "mixes"
KINDS = ("one_word", "several_words", "phrase", "prefix", "typo", "filtered", "browse")
PER_KIND = 50

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
# Words nobody types as a search: English and French function words, plus web boilerplate.
_STOP = frozenset(
    str.split(
        """a about after all also an and any are as at be been but by can could did do does for from had has have
    he her his how i if in into is it its just me more most my no not of on one or our out over so some such
    than that the their them then there these they this those through to too up us was we were what when where
    which who will with would you your talk talks video videos http https www com org html youtube
    au aux avec ce ces cette dans de des du elle en est et il ils je la le les leur lui ma mais me mes moi mon
    ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous
    été être fait sont plus comme tout très bien aussi peut nous"""
    )
)
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


def draw_query_mix(corpus: Corpus, per_kind: int = PER_KIND, seed: int = MIX_VERSION) -> dict:
    """``per_kind`` queries of each kind, from the corpus' vocabulary, deterministic for (corpus, seed)."""
    rng = random.Random(f"{corpus.name}:{seed}")
    records = corpus.records
    doc_words = [set(filter(_content_word, words_of(f"{r['title']} {r.get('summary', '')}"))) for r in records]
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
    return {
        "version": MIX_VERSION,
        "corpus": corpus.name,
        "talks": len(records),
        "seed": seed,
        "per_kind": per_kind,
        "how": "drawn by bench/queries.py from word document frequencies, title words and talk facets; "
        "no engine consulted",
        "queries": queries,
    }


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
