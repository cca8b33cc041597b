"""The course's bundled data sets: loading, checksum verification and deterministic splits.

Every file under ``data/`` is listed with its SHA-256 in ``data/MANIFEST.sha256`` (the format of
``sha256sum``, so ``cd data && sha256sum -c MANIFEST.sha256`` checks it by hand too). The first time
a file is loaded in a process its checksum is verified; a missing or changed file raises
:class:`DataFileError`, which names the file and says how to restore it.

Nothing is ever downloaded: the data live in the repository (about 5.2 MB in all).

============================  ===========================================  =============================
loader                        what                                         splits
============================  ===========================================  =============================
:func:`load_names`            surnames in 18 languages                     train / val / test (ours)
:func:`load_multi30k`         German–English image captions                train / val / test (official)
:func:`load_conll2000`        WSJ sentences with POS and chunk tags        train / test (official)
:func:`load_rt_polarity`      movie-review sentences, positive / negative  train / val / test (ours)
:func:`load_wikipedia`        106 Wikipedia articles, markup stripped      one corpus (notebook 03)
:func:`load_word_similarity`  WordSim-353 and SimLex-999 word pairs        evaluation only
:func:`load_analogies`        Mikolov et al.'s analogy questions           evaluation only
============================  ===========================================  =============================
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import html
import numbers
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar
from xml.etree import ElementTree

__all__ = [
    "DATA_DIR",
    "DataFileError",
    "Splits",
    "data_dir",
    "verify_file",
    "verify_all",
    "load_names",
    "load_multi30k",
    "load_conll2000",
    "load_rt_polarity",
    "load_wikipedia",
    "load_word_similarity",
    "load_analogies",
    "strip_wikitext",
    "stratified_split",
    "summary",
]

DATA_ENV = "COURSE_DATA_DIR"
MANIFEST = "MANIFEST.sha256"
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

NAMES_LANGUAGES = (
    "Arabic", "Chinese", "Czech", "Dutch", "English", "French", "German", "Greek", "Irish",
    "Italian", "Japanese", "Korean", "Polish", "Portuguese", "Russian", "Scottish", "Spanish",
    "Vietnamese",
)  # fmt: skip
MULTI30K_FILES = {"train": "train", "val": "val", "test": "test_2016_flickr"}
CONLL_SPLITS = ("train", "test")

E = TypeVar("E")
# Files whose checksum matched in this process: (resolved data folder, relative path, expected digest)
# -> the file's (device, inode, size, mtime, ctime) when it was hashed. A file in another folder (e.g. a
# copy that $COURSE_DATA_DIR points to), or one changed since, is hashed again.
_verified: dict[tuple[str, str, str], tuple[int, ...]] = {}
_SHA256_HEX = frozenset("0123456789abcdef")


class DataFileError(RuntimeError):
    """A bundled data file is missing, changed or malformed."""


@dataclass
class Splits(Generic[E]):
    """Train / validation / test examples of one data set, plus its class labels (if any)."""

    train: list[E]
    val: list[E]
    test: list[E]
    classes: list[str] = field(default_factory=list)

    def sizes(self) -> dict[str, int]:
        """Number of examples per split, e.g. ``{"train": 14411, "val": 1802, "test": 1802}``."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v:,}" for k, v in self.sizes().items())
        return f"Splits({sizes}, classes={len(self.classes)})"


# --------------------------------------------------------------------------- files and checksums


def data_dir() -> Path:
    """The data folder: ``$COURSE_DATA_DIR`` if set, else the repository's ``data/``."""
    override = os.environ.get(DATA_ENV, "").strip()
    return Path(override).expanduser() if override else DATA_DIR


def _manifest(root: Path) -> dict[str, str]:
    path = root / MANIFEST
    restore = (
        f"Restore it with `git checkout -- data/{MANIFEST}` (from the repository root), "
        f"or set ${DATA_ENV} to the course's data folder."
    )
    if not path.is_file():
        raise DataFileError(f"the checksum manifest data/{MANIFEST} is missing (looked in {root}). {restore}")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise DataFileError(f"the checksum manifest {path} cannot be read ({err}). {restore}") from err
    except UnicodeDecodeError as err:
        raise DataFileError(f"the checksum manifest {path} is not UTF-8 text ({err}). {restore}") from err
    entries: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(maxsplit=1)
        digest = fields[0].lower()
        name = fields[1].strip().lstrip("*") if len(fields) == 2 else ""
        if len(digest) != 64 or not set(digest) <= _SHA256_HEX or not name:
            raise DataFileError(
                f"the checksum manifest {path} is malformed at line {lineno}: expected "
                f"'<64 hex digits of SHA-256>  <file path>' (the format of sha256sum), got {line[:100]!r}. "
                f"{restore}"
            )
        if entries.get(name, digest) != digest:
            raise DataFileError(
                f"the checksum manifest {path} lists data/{name} twice with different checksums "
                f"(line {lineno}). {restore}"
            )
        entries[name] = digest
    return entries


def _stamp(path: Path) -> tuple[int, ...] | None:
    """What identifies one version of a file (device, inode, size, mtime, ctime); None if it is no file."""
    try:
        st = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def verify_file(relpath: str) -> Path:
    """Check one data file (path relative to ``data/``) against the manifest; return its full path.

    Raises :class:`DataFileError` naming the file and how to restore it if it is missing or changed.
    Each file is hashed once per process and data folder, and again whenever it changes on disk
    (size, modification or status-change time).
    """
    if isinstance(relpath, os.PathLike):
        relpath = Path(relpath).as_posix()
    if not isinstance(relpath, str):
        raise TypeError(
            f"relpath must be a str path relative to data/, e.g. 'names/Korean.txt', got {type(relpath).__name__}"
        )
    root = data_dir()
    path = root / relpath
    restore = f"Restore it with `git checkout -- data/{relpath}` (from the repository root)."
    expected = _manifest(root).get(relpath)
    if expected is None:
        raise DataFileError(
            f"data/{relpath} is not listed in data/{MANIFEST}; the known files are the course's own "
            f"(see data/{MANIFEST}), with paths relative to data/, e.g. 'names/Korean.txt'."
        )
    stamp = _stamp(path)
    if stamp is None:
        raise DataFileError(f"data file data/{relpath} is missing (looked for {path}). {restore}")
    key = (str(root.resolve()), relpath, expected)
    if _verified.get(key) == stamp:
        return path
    try:
        content = path.read_bytes()
    except OSError as err:
        raise DataFileError(f"data file data/{relpath} cannot be read ({err}). {restore}") from err
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected:
        _verified.pop(key, None)
        if b"\r\n" in content and hashlib.sha256(content.replace(b"\r\n", b"\n")).hexdigest() == expected:
            raise DataFileError(
                f"data file data/{relpath} has Windows line endings (CRLF): git converted it on checkout "
                "(Git for Windows sets core.autocrlf=true). The repository's .gitattributes prevents this; "
                f"delete the file and check it out again, from the repository root: `git pull`, then "
                f"`rm data/{relpath}` and `git -c core.autocrlf=false checkout -- data/{relpath}`."
            )
        raise DataFileError(
            f"data file data/{relpath} has changed: its SHA-256 is {actual[:12]}…, "
            f"the manifest expects {expected[:12]}…. Restore it from the repository root: "
            f"`rm data/{relpath}` then `git checkout -- data/{relpath}` (git skips a file it thinks unchanged)."
        )
    _verified[key] = stamp
    return path


def verify_all() -> list[str]:
    """Verify every file listed in the manifest; return their relative paths."""
    names = sorted(_manifest(data_dir()))
    for name in names:
        verify_file(name)
    return names


def _read_text(relpath: str, encoding: str = "utf-8") -> str:
    path = verify_file(relpath)
    restore = f"Restore it with `git checkout -- data/{relpath}` (from the repository root)."
    try:
        raw = path.read_bytes()
    except OSError as err:  # removed or made unreadable since it was verified
        raise DataFileError(f"data file data/{relpath} cannot be read ({err}). {restore}") from err
    try:
        if relpath.endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode(encoding)
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise DataFileError(f"data file data/{relpath} cannot be decoded ({err}). {restore}") from err


# --------------------------------------------------------------------------- splitting


def stratified_split(
    items: Sequence[E],
    strata: Sequence[str],
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    seed: int = 0,
) -> tuple[list[E], list[E], list[E]]:
    """Split ``items`` into train / val / test, keeping each stratum's proportions.

    Within every stratum the items are shuffled with ``seed`` and the first ``round(n * test_frac)``
    go to test, the next ``round(n * val_frac)`` to val and the rest to train. The result is the
    same on every machine for the same inputs and seed.
    """
    if len(items) != len(strata):
        raise ValueError(f"items and strata must have the same length, got {len(items)} and {len(strata)}")
    for name, frac in (("val_frac", val_frac), ("test_frac", test_frac)):
        if isinstance(frac, bool) or not isinstance(frac, numbers.Real):
            raise TypeError(
                f"{name} must be a number in [0, 1), e.g. 0.1, got {type(frac).__name__} ({frac!r})"
            )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, e.g. seed=0, got {type(seed).__name__} ({seed!r})")
    if not (0 <= val_frac < 1 and 0 <= test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(
            f"need 0 <= val_frac, test_frac and val_frac + test_frac < 1, got {val_frac}, {test_frac}"
        )
    rng = random.Random(int(seed))
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(strata):
        by_stratum[s].append(i)
    train, val, test = [], [], []
    for s in sorted(by_stratum):
        idx = by_stratum[s]
        rng.shuffle(idx)
        n_test, n_val = round(len(idx) * test_frac), round(len(idx) * val_frac)
        test += idx[:n_test]
        val += idx[n_test : n_test + n_val]
        train += idx[n_test + n_val :]
    for part in (train, val, test):
        rng.shuffle(part)  # mix the strata
    return [items[i] for i in train], [items[i] for i in val], [items[i] for i in test]


# --------------------------------------------------------------------------- names


def _read_names() -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for lang in NAMES_LANGUAGES:
        for line in _read_text(f"names/{lang}.txt").split("\n"):
            if line.strip():
                pairs.append((line.strip(), lang))
    return pairs


def load_names(seed: int = 0, val_frac: float = 0.1, test_frac: float = 0.1) -> Splits[tuple[str, str]]:
    """Surnames and their language (18 classes), split 80/10/10 without leakage.

    * The 20,074 lines become 18,015 (name, language) pairs once exact duplicates are dropped
      (``Arabic.txt`` alone repeats its 108 distinct names to 2,000 lines).
    * Names are raw Unicode (e.g. ``"Ślusàrski"``), stripped of surrounding spaces.
    * A name that occurs in several languages (469 names, 1,031 pairs, e.g. ``"Abel"`` is English,
      French and German) is kept once per language: it is a genuinely ambiguous example, and a
      classifier can be right for only one of its copies. All copies of a name go to the **same**
      split, chosen by the rarest of its languages, so no test name is ever seen in training.
    * The split is stratified by language (for multi-language names: their rarest language) and
      deterministic for a given ``seed``.

    Returns ``Splits`` of ``(name, language)`` pairs with ``classes`` = the 18 languages, sorted.
    """
    pairs = list(dict.fromkeys(_read_names()))  # drop exact duplicates, keep first-seen order
    counts = Counter(lang for _, lang in pairs)
    languages: dict[str, list[str]] = defaultdict(list)
    for name, lang in pairs:
        languages[name].append(lang)
    names = sorted(languages)
    strata = [min(languages[n], key=lambda lang: (counts[lang], lang)) for n in names]
    train, val, test = stratified_split(names, strata, val_frac, test_frac, seed)

    def expand(part: list[str]) -> list[tuple[str, str]]:
        return [(n, lang) for n in part for lang in sorted(languages[n])]

    return Splits(expand(train), expand(val), expand(test), classes=sorted(counts))


# --------------------------------------------------------------------------- Multi30k


def _check_split(split: str, allowed: Iterable[str], dataset: str) -> None:
    allowed = list(allowed)
    if split not in allowed:
        raise ValueError(f"{dataset} has no split {split!r}; choose one of {allowed}")


def load_multi30k(split: str) -> list[tuple[str, str]]:
    """Multi30k task 1 (German–English captions): ``(german, english)`` raw sentence pairs.

    ``split`` is ``"train"`` (29,000 pairs), ``"val"`` (1,014) or ``"test"`` (test_2016_flickr, 1,000).
    The text is neither tokenized nor lower-cased.
    """
    _check_split(split, MULTI30K_FILES, "multi30k")
    stem = MULTI30K_FILES[split]
    de = _read_text(f"multi30k/{stem}.de.gz").rstrip("\n").split("\n")
    en = _read_text(f"multi30k/{stem}.en.gz").rstrip("\n").split("\n")
    if len(de) != len(en):
        raise DataFileError(f"multi30k/{stem}: {len(de)} German lines but {len(en)} English lines")
    return list(zip(de, en, strict=True))


# --------------------------------------------------------------------------- CoNLL-2000


def load_conll2000(split: str) -> list[list[tuple[str, str, str]]]:
    """CoNLL-2000 (WSJ): sentences as lists of ``(word, POS tag, chunk tag)``.

    ``split`` is ``"train"`` (sections 15–18, 8,936 sentences, 211,727 tokens) or ``"test"``
    (section 20, 2,012 sentences, 47,377 tokens). The POS tags use the Penn Treebank tag set but were
    assigned by the Brill tagger, not taken from the treebank (see ``data/conll2000/README``); the
    chunk tags come from the treebank.
    """
    _check_split(split, CONLL_SPLITS, "conll2000")
    sentences: list[list[tuple[str, str, str]]] = []
    current: list[tuple[str, str, str]] = []
    for lineno, line in enumerate(_read_text(f"conll2000/{split}.txt.gz").split("\n"), start=1):
        if not line.strip():
            if current:
                sentences.append(current)
                current = []
            continue
        fields = line.split()
        if len(fields) != 3:
            raise DataFileError(
                f"conll2000/{split}.txt.gz line {lineno}: expected 'word POS chunk', got {line!r}"
            )
        current.append((fields[0], fields[1], fields[2]))
    if current:
        sentences.append(current)
    return sentences


# --------------------------------------------------------------------------- rt-polarity


def load_rt_polarity(seed: int = 0, val_frac: float = 0.1, test_frac: float = 0.1) -> Splits[tuple[str, str]]:
    """Movie-review sentence polarity v1.0: ``(sentence, label)`` with label ``"neg"`` or ``"pos"``.

    The files are Windows-1252 (a superset of Latin-1), so they are decoded as such: byte 0x85 is
    "…" and 0x96/0x97 are dashes. Lines are split on ``\\n`` only, because in Latin-1 byte 0x85 is a
    line terminator (NEL) that ``str.splitlines`` would break on. There is no official split (the
    literature uses 10-fold cross-validation); ours is stratified 80/10/10 and deterministic.
    """
    items: list[tuple[str, str]] = []
    for label in ("neg", "pos"):
        text = _read_text(f"rt-polarity/rt-polarity.{label}", encoding="cp1252")
        items += [(line.strip(), label) for line in text.split("\n") if line.strip()]
    items = list(dict.fromkeys(items))
    train, val, test = stratified_split(items, [label for _, label in items], val_frac, test_frac, seed)
    return Splits(train, val, test, classes=["neg", "pos"])


# --------------------------------------------------------------------------- Wikipedia sample and embedding evaluation sets

WIKI_FILE = "embeddings/enwiki-sample.xml.bz2"
SIMILARITY_FILES = {"wordsim353": "embeddings/wordsim353.tsv", "simlex999": "embeddings/simlex999.txt"}
ANALOGY_FILE = "embeddings/questions-words.txt.gz"

# Links whose target is in one of these namespaces are not running text: images (with their captions) and
# category tags are dropped whole. Every other link keeps its visible text.
_DROPPED_LINKS = ("file", "image", "category", "media")
# Tags whose content is not prose (formulas, galleries, code, references): dropped with their content.
_DROPPED_TAGS = ("ref", "math", "gallery", "code", "source", "syntaxhighlight", "timeline", "score", "chem",
                 "imagemap", "hiero", "templatedata", "graph", "mapframe")  # fmt: skip


def _drop_nested(text: str, open_: str, close: str) -> str:
    """Remove every (possibly nested) ``open_ … close`` span; an unclosed span runs to the end."""
    out, depth, start = [], 0, 0
    for m in re.finditer(f"{re.escape(open_)}|{re.escape(close)}", text):
        if m.group() == open_:
            if depth == 0:
                out.append(text[start : m.start()])
            depth += 1
        elif depth:
            depth -= 1
            start = m.end()
    if depth == 0:
        out.append(text[start:])
    return "".join(out)


def _link_text(inner: str) -> str:
    """The visible text of one link's inside (``target|shown``), or "" for an image or category link."""
    head = inner.split("|", 1)[0]
    if ":" in head and head.split(":", 1)[0].strip().lower() in _DROPPED_LINKS:
        return ""
    target, _, shown = inner.partition("|")
    return (shown or target).lstrip(":")


def _replace_links(text: str) -> str:
    """``[[target|shown]]`` -> ``shown``, ``[[target]]`` -> ``target``; image and category links dropped whole
    (nested links inside an image caption included)."""
    stack: list[list[str]] = [[]]  # the text of each open link, innermost last
    start = 0
    for m in re.finditer(r"\[\[|\]\]", text):
        stack[-1].append(text[start : m.start()])
        start = m.end()
        if m.group() == "[[":
            stack.append([])
        elif len(stack) > 1:
            inner = "".join(stack.pop())
            stack[-1].append(_link_text(inner))
        else:
            stack[-1].append("]]")  # a stray closing bracket stays as it is
    stack[-1].append(text[start:])
    while len(stack) > 1:  # unclosed links: keep their text
        inner = "".join(stack.pop())
        stack[-1].append(_link_text(inner))
    return "".join(stack[0])


def strip_wikitext(text: str) -> str:
    """Plain prose from MediaWiki markup (as it appears in a dump, entities already unescaped by the XML parser).

    In this order: HTML comments, ``<ref>`` footnotes and non-prose tags (``<math>``, ``<gallery>``, ``<code>`` …)
    are dropped with their content; tables (``{| … |}``) and templates (``{{ … }}``, nested: infoboxes,
    citations, pronunciations) are dropped; internal links keep their visible text (``[[Latin|Latin language]]``
    -> ``Latin language``) except image and category links, dropped whole; external links keep their label
    (``[http://x.org label]`` -> ``label``); other tags are removed but keep their content (``<sub>2</sub>`` ->
    ``2``); HTML entities are decoded (``&nbsp;``); bold/italic quotes, heading ``=`` signs and list markers are
    removed. Paragraphs stay on separate lines; empty lines and leftover table rows are dropped.
    """
    if not isinstance(text, str):
        raise TypeError(f"strip_wikitext expects a str of MediaWiki markup, got {type(text).__name__}")
    text = re.sub(r"<!--.*?(-->|$)", "", text, flags=re.S)
    for tag in _DROPPED_TAGS:
        text = re.sub(rf"<{tag}\b[^>]*/>", "", text, flags=re.I)
        text = re.sub(rf"<{tag}\b[^>]*>.*?(</{tag}\s*>|$)", "", text, flags=re.I | re.S)
    text = _drop_nested(text, "{|", "|}")
    text = _drop_nested(text, "{{", "}}")
    text = _replace_links(text)
    text = re.sub(r"\[(?:https?:)?//[^\s\]]+\s*([^\]]*)\]", r"\1", text)  # [url label] -> label
    text = re.sub(r"</?[a-zA-Z][^>]*>", "", text)  # other tags: keep what they enclose
    text = html.unescape(text).replace("\xa0", " ")
    text = re.sub(r"\(\s*[,;]?\s*\)", "", text)  # brackets left empty by a dropped template
    text = re.sub(r"\(\s*[,;]\s*", "(", text)  # "(; born …" where a pronunciation was
    text = re.sub(r"'{2,}", "", text)  # ''italic'', '''bold'''
    lines = []
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith(("|", "!", "__")):  # stray table rows, magic words such as __NOTOC__
            continue
        line = re.sub(r"^=+\s*(.*?)\s*=+$", r"\1", line)  # == Heading == -> Heading
        line = re.sub(r"^[*#:;]+\s*", "", line)  # list and indent markers
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def load_wikipedia() -> list[tuple[str, str]]:
    """The bundled Wikipedia sample as ``(title, plain text)`` per article, markup removed by :func:`strip_wikitext`.

    Only articles (namespace 0) are kept; redirect pages (``#REDIRECT [[…]]``) are skipped."""
    raw = verify_file(WIKI_FILE).read_bytes()
    try:
        xml = bz2.decompress(raw)
        root = ElementTree.fromstring(xml)
    except (OSError, ValueError, ElementTree.ParseError) as err:
        raise DataFileError(
            f"data file data/{WIKI_FILE} cannot be decoded ({err}). "
            f"Restore it with `git checkout -- data/{WIKI_FILE}` (from the repository root)."
        ) from err
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    articles = []
    for page in root.iter(f"{ns}page"):
        if page.findtext(f"{ns}ns") != "0":
            continue
        body = page.findtext(f"{ns}revision/{ns}text") or ""
        if body.lstrip().lower().startswith("#redirect"):
            continue
        articles.append((page.findtext(f"{ns}title") or "", strip_wikitext(body)))
    return articles


def load_word_similarity(name: str) -> list[tuple[str, str, float]]:
    """Human word-pair judgements ``(word1, word2, score)``, lower-cased: ``"wordsim353"`` (relatedness, 0-10,
    Finkelstein et al. 2002) or ``"simlex999"`` (similarity proper, 0-10, Hill et al. 2015)."""
    if name not in SIMILARITY_FILES:
        raise ValueError(f"unknown similarity set {name!r}; use one of {sorted(SIMILARITY_FILES)}")
    relpath = SIMILARITY_FILES[name]
    pairs = []
    for number, line in enumerate(_read_text(relpath).split("\n"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        try:
            pairs.append((fields[0].strip().lower(), fields[1].strip().lower(), float(fields[2])))
        except (IndexError, ValueError) as err:
            raise DataFileError(
                f"data/{relpath} line {number} is not 'word<TAB>word<TAB>score': {line[:80]!r}. "
                f"Restore it with `git checkout -- data/{relpath}`."
            ) from err
    return pairs


def load_analogies() -> list[tuple[str, str, str, str, str]]:
    """Mikolov et al.'s (2013) 19,544 analogy questions as ``(section, a, b, c, d)``, lower-cased:
    a is to b as c is to d (``athens greece baghdad iraq``). Sections 1-5 are semantic
    (``capital-common-countries`` …), the ``gram*`` sections syntactic."""
    questions, section = [], ""
    for number, line in enumerate(_read_text(ANALOGY_FILE).split("\n"), 1):
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.lower().split()
        if not words:
            continue
        if len(words) != 4 or not section:
            raise DataFileError(
                f"data/{ANALOGY_FILE} line {number} is not four words under a ': section' line: {line[:80]!r}. "
                f"Restore it with `git checkout -- data/{ANALOGY_FILE}`."
            )
        questions.append((section, *words))
    return questions


# --------------------------------------------------------------------------- overview


def summary() -> list[dict[str, object]]:
    """One row per bundled data set: name, unit, split sizes, number of classes, size (``None``: not applicable)."""
    names = load_names()
    rt = load_rt_polarity()
    wiki = load_wikipedia()
    similarity = {name: load_word_similarity(name) for name in SIMILARITY_FILES}
    m30k = {s: load_multi30k(s) for s in MULTI30K_FILES}
    conll = {s: load_conll2000(s) for s in CONLL_SPLITS}
    return [
        {
            "data set": "names",
            "unit": "surname",
            **names.sizes(),
            "classes": len(names.classes),
            "size": f"{sum(len(n) for part in (names.train, names.val, names.test) for n, _ in part):,} chars",
        },
        {
            "data set": "multi30k (de-en)",
            "unit": "sentence pair",
            **{s: len(v) for s, v in m30k.items()},
            "classes": None,
            "size": f"{sum(len(en.split()) for en_de in m30k.values() for _, en in en_de):,} en words",
        },
        {
            "data set": "conll2000",
            "unit": "sentence",
            "train": len(conll["train"]),
            "val": None,
            "test": len(conll["test"]),
            "classes": len({pos for part in conll.values() for s in part for _, pos, _ in s}),
            "size": f"{sum(len(s) for part in conll.values() for s in part):,} tokens",
        },
        {
            "data set": "rt-polarity",
            "unit": "sentence",
            **rt.sizes(),
            "classes": len(rt.classes),
            "size": f"{sum(len(t.split()) for part in (rt.train, rt.val, rt.test) for t, _ in part):,} tokens",
        },
        {
            "data set": "wikipedia sample",
            "unit": "article",
            "train": len(wiki),
            "val": None,
            "test": None,
            "classes": None,
            "size": f"{sum(len(text.split()) for _, text in wiki):,} words",
        },
        {
            "data set": "embedding evaluation",
            "unit": "word pair / analogy",
            "train": None,
            "val": None,
            "test": sum(len(p) for p in similarity.values()) + len(load_analogies()),
            "classes": None,
            "size": "WordSim-353, SimLex-999, 19,544 analogies",
        },
    ]
