"""Tests for course_utils.data: checksums, loaders, deterministic leakage-free splits."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import pytest

from course_utils import data


@pytest.fixture
def data_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of data/ that a test may damage; COURSE_DATA_DIR points to it."""
    root = tmp_path / "data"
    shutil.copytree(data.DATA_DIR, root)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    monkeypatch.setenv(data.DATA_ENV, str(root))
    monkeypatch.setattr(data, "_verified", {})
    return root


def test_data_dir_default_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    assert data.data_dir() == data.DATA_DIR
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.data_dir() == tmp_path


def test_manifest_lists_every_data_file() -> None:
    on_disk = {
        str(p.relative_to(data.DATA_DIR))
        for p in data.DATA_DIR.rglob("*")
        if p.is_file() and p.name not in {"MANIFEST.sha256", "README.md"}
    }
    assert set(data.verify_all()) == on_disk


def test_verify_file_returns_path() -> None:
    assert data.verify_file("names/Korean.txt") == data.DATA_DIR / "names" / "Korean.txt"


def test_missing_file_names_it_and_how_to_restore(data_copy: Path) -> None:
    (data_copy / "names" / "Korean.txt").unlink()
    with pytest.raises(
        data.DataFileError, match=r"data/names/Korean.txt is missing.*git checkout -- data/names/Korean.txt"
    ):
        data.load_names()


def test_changed_file_is_detected(data_copy: Path) -> None:
    with open(data_copy / "multi30k" / "val.en.gz", "ab") as f:
        f.write(b"x")
    with pytest.raises(data.DataFileError, match=r"multi30k/val.en.gz has changed.*git checkout"):
        data.load_multi30k("val")
    data.load_multi30k("test")  # other files are still fine


def test_crlf_conversion_is_named_with_its_fix(data_copy: Path) -> None:
    """What Git for Windows' core.autocrlf=true does to a text file: a specific message, not "changed"."""
    path = data_copy / "names" / "Korean.txt"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(
        data.DataFileError, match=r"data/names/Korean.txt has Windows line endings.*autocrlf=false"
    ):
        data.load_names()


def test_missing_manifest(data_copy: Path) -> None:
    (data_copy / "MANIFEST.sha256").unlink()
    with pytest.raises(data.DataFileError, match="manifest"):
        data.verify_file("names/Korean.txt")


def test_unlisted_file_is_rejected() -> None:
    with pytest.raises(data.DataFileError, match="not listed"):
        data.verify_file("names/Klingon.txt")


def test_names_sizes_and_classes() -> None:
    s = data.load_names()
    assert len(s.classes) == 18 and s.classes == sorted(s.classes)
    everything = s.train + s.val + s.test
    assert len(everything) == 18_015 == len(set(everything))  # exact duplicates dropped
    assert s.sizes() == {"train": len(s.train), "val": len(s.val), "test": len(s.test)}
    assert 0.78 < len(s.train) / len(everything) < 0.82
    assert ("Ślusarski", "Polish") in everything and ("Müller", "German") in everything  # raw Unicode kept
    assert all(n == n.strip() and n for n, _ in everything)


def test_names_split_is_leakage_free_and_stratified() -> None:
    s = data.load_names()
    train, val, test = ({n for n, _ in part} for part in (s.train, s.val, s.test))
    assert not (train & val) and not (train & test) and not (val & test)
    counts = Counter(lang for _, lang in s.train + s.val + s.test)
    test_counts = Counter(lang for _, lang in s.test)
    for lang, n in counts.items():  # every language is in test, roughly 10 %
        assert abs(test_counts[lang] - 0.1 * n) <= max(3, 0.03 * n), lang


def test_multi_language_names_stay_together() -> None:
    s = data.load_names()
    langs: dict[str, set[str]] = {}
    for part in (s.train, s.val, s.test):
        for n, lang in part:
            langs.setdefault(n, set()).add(lang)
    shared = {n for n, ls in langs.items() if len(ls) > 1}
    assert len(shared) == 469
    assert langs["Abel"] >= {"English", "French", "German"}


def test_names_split_deterministic_and_seeded() -> None:
    a, b, c = data.load_names(seed=0), data.load_names(seed=0), data.load_names(seed=1)
    assert a.test == b.test and a.train == b.train
    assert set(a.test) != set(c.test)


def test_multi30k() -> None:
    train, val, test = (data.load_multi30k(s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (29_000, 1_014, 1_000)
    assert train[0] == (
        "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
        "Two young, White males are outside near many bushes.",
    )
    with pytest.raises(ValueError, match="no split 'dev'"):
        data.load_multi30k("dev")


def test_conll2000() -> None:
    train, test = data.load_conll2000("train"), data.load_conll2000("test")
    assert (len(train), len(test)) == (8_936, 2_012)
    assert (sum(map(len, train)), sum(map(len, test))) == (211_727, 47_377)
    assert train[0][:2] == [("Confidence", "NN", "B-NP"), ("in", "IN", "B-PP")]
    with pytest.raises(ValueError, match="choose one of"):
        data.load_conll2000("val")


def test_conll2000_malformed_line(data_copy: Path) -> None:
    import gzip
    import hashlib

    path = data_copy / "conll2000" / "test.txt.gz"
    path.write_bytes(gzip.compress(b"Confidence NN\n"))
    manifest = data_copy / "MANIFEST.sha256"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    lines = [
        f"{digest}  conll2000/test.txt.gz" if "conll2000/test" in ln else ln
        for ln in manifest.read_text().splitlines()
    ]
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.raises(data.DataFileError, match="line 1: expected 'word POS chunk'"):
        data.load_conll2000("test")


def test_rt_polarity_decodes_cp1252_and_splits() -> None:
    s = data.load_rt_polarity()
    everything = s.train + s.val + s.test
    assert len(everything) == 10_662 and s.classes == ["neg", "pos"]
    assert Counter(label for _, label in everything) == {"neg": 5_331, "pos": 5_331}
    text = " ".join(t for t, _ in everything)
    assert "…" in text and "é" in text  # 0x85 and 0xe9 decoded as Windows-1252
    assert "\x85" not in text and "\ufffd" not in text
    assert Counter(label for _, label in s.test) == {"neg": 533, "pos": 533}
    assert not ({t for t, _ in s.train} & {t for t, _ in s.test})


def test_stratified_split_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        data.stratified_split([1, 2], ["a"])
    with pytest.raises(ValueError, match="val_frac"):
        data.stratified_split([1, 2], ["a", "a"], val_frac=0.6, test_frac=0.5)


def test_stratified_split_proportions() -> None:
    items = list(range(100))
    strata = ["a"] * 80 + ["b"] * 20
    train, val, test = data.stratified_split(items, strata, 0.1, 0.1, seed=3)
    assert sorted(train + val + test) == items
    assert sum(i >= 80 for i in test) == 2 and sum(i < 80 for i in test) == 8


def test_splits_repr_and_summary() -> None:
    assert repr(data.load_names()).startswith("Splits(train=14,396")
    rows = data.summary()
    assert [r["data set"] for r in rows] == [
        "names", "multi30k (de-en)", "conll2000", "rt-polarity", "wikipedia sample", "embedding evaluation",
    ]  # fmt: skip
    assert rows[4]["train"] == 106 and rows[5]["test"] == 353 + 999 + 19_544
    assert rows[1]["train"] == 29_000 and rows[3]["classes"] == 2


# --------------------------------------------------------------------------- checksum cache and manifest


def test_cache_is_per_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file verified in data/ does not make an edited copy elsewhere ($COURSE_DATA_DIR) trusted."""
    monkeypatch.setattr(data, "_verified", {})
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    data.verify_file("names/Korean.txt")  # the repository's copy: verified and cached
    root = tmp_path / "data"
    shutil.copytree(data.DATA_DIR, root)
    with open(root / "names" / "Korean.txt", "ab") as f:
        f.write(b"Kimchi\n")
    monkeypatch.setenv(data.DATA_ENV, str(root))
    with pytest.raises(data.DataFileError, match=r"names/Korean.txt has changed"):
        data.verify_file("names/Korean.txt")
    with pytest.raises(data.DataFileError, match=r"names/Korean.txt has changed"):
        data.load_names()


def test_file_edited_after_verification_is_verified_again(data_copy: Path) -> None:
    import os

    path = data_copy / "names" / "Korean.txt"
    data.verify_file("names/Korean.txt")
    with open(path, "ab") as f:  # a different size
        f.write(b"Kimchi\n")
    with pytest.raises(data.DataFileError, match="has changed"):
        data.verify_file("names/Korean.txt")
    shutil.copy(data.DATA_DIR / "names" / "Korean.txt", path)  # restored: fine again
    data.verify_file("names/Korean.txt")
    # same size, different bytes, with another modification time
    st = path.stat()
    content = bytearray(path.read_bytes())
    content[0] ^= 0x20
    path.write_bytes(bytes(content))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with pytest.raises(data.DataFileError, match="has changed"):
        data.load_names()


def test_file_removed_after_verification(data_copy: Path) -> None:
    data.load_names()  # verifies (and caches) every names file
    (data_copy / "names" / "Korean.txt").unlink()
    with pytest.raises(
        data.DataFileError, match=r"names/Korean.txt is missing.*git checkout -- data/names/Korean"
    ):
        data.verify_file("names/Korean.txt")
    with pytest.raises(data.DataFileError, match=r"names/Korean.txt is missing"):
        data.load_names()
    (data_copy / "names" / "Korean.txt").mkdir()  # a folder is no file either
    with pytest.raises(data.DataFileError, match=r"names/Korean.txt is missing"):
        data.load_names()


def test_file_vanishing_while_read_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(data, "verify_file", lambda relpath: tmp_path / "gone.txt")
    with pytest.raises(data.DataFileError, match=r"data/names/Korean.txt cannot be read.*git checkout"):
        data._read_text("names/Korean.txt")


@pytest.mark.parametrize(
    "bad_line",
    [
        "0123abcd",  # no file name
        "not-a-digest  names/Korean.txt",  # not 64 hex digits
        "a" * 63 + "  names/Korean.txt",  # too short
        "z" * 64 + "  names/Korean.txt",  # not hex
    ],
)
def test_malformed_manifest_line_is_named(data_copy: Path, bad_line: str) -> None:
    manifest = data_copy / data.MANIFEST
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join([*lines[:2], bad_line, *lines[2:]]) + "\n")
    with pytest.raises(
        data.DataFileError,
        match=r"MANIFEST.sha256 is malformed at line 3.*git checkout -- data/MANIFEST.sha256",
    ):
        data.verify_file("names/Korean.txt")
    with pytest.raises(data.DataFileError, match="malformed at line 3"):
        data.verify_all()


def test_manifest_not_utf8_or_contradictory(data_copy: Path) -> None:
    manifest = data_copy / data.MANIFEST
    original = manifest.read_bytes()
    manifest.write_bytes(original + b"\xff\xfe garbage\n")
    with pytest.raises(data.DataFileError, match=r"not UTF-8.*git checkout -- data/MANIFEST.sha256"):
        data.load_names()
    manifest.write_bytes(original + ("0" * 64 + "  names/Korean.txt\n").encode())
    with pytest.raises(data.DataFileError, match=r"lists data/names/Korean.txt twice.*git checkout"):
        data.load_names()
    manifest.write_bytes(original + b"\n\n")  # blank lines are fine
    assert len(data.load_names().classes) == 18


def test_verify_file_bad_relpath() -> None:
    with pytest.raises(TypeError, match="relpath must be a str"):
        data.verify_file(3)  # type: ignore[arg-type]
    with pytest.raises(data.DataFileError, match="not listed"):
        data.verify_file("../README.md")
    assert data.verify_file(Path("names") / "Korean.txt") == data.DATA_DIR / "names" / "Korean.txt"  # type: ignore[arg-type]


def test_stratified_split_bad_types() -> None:
    with pytest.raises(TypeError, match="val_frac must be a number"):
        data.stratified_split([1, 2], ["a", "a"], val_frac="0.1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="test_frac must be a number"):
        data.stratified_split([1, 2], ["a", "a"], test_frac=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed must be an int"):
        data.stratified_split([1, 2], ["a", "a"], seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed must be an int"):
        data.load_names(seed="0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="val_frac"):
        data.stratified_split([1, 2], ["a", "a"], val_frac=float("nan"))
    import numpy as np

    items = list(range(50))
    assert data.stratified_split(items, ["a"] * 50, seed=np.int64(3)) == data.stratified_split(
        items, ["a"] * 50, seed=3
    )


# --------------------------------------------------------------------------- Wikipedia and embedding evaluation sets


def test_strip_wikitext_markup_classes() -> None:
    from course_utils.data import strip_wikitext

    raw = (
        "{{Infobox person|name=X|born={{birth date|1809|2|12}}}}\n"
        "'''Abraham Lincoln''' ({{IPAc-en|ˈ|l|ɪ|ŋ}}; born 1809) was a [[lawyer]] and [[Whig Party (United States)|Whig]]"
        " leader.<ref name=a>{{cite book|title=T}}</ref> See [http://example.org the site] or [http://bare.org].\n"
        "[[File:Lincoln.jpg|thumb|A photo of [[Abraham Lincoln|Lincoln]] in 1863]]\n"
        "== Early life ==\n"
        "* He was born in H<sub>2</sub>O&nbsp;county<!-- a comment -->.<ref>short</ref>\n"
        "{| class=wikitable\n|-\n| cell || {{flag|US}}\n|}\n"
        "<math>x^2</math>Formula gone. [[Category:Presidents]] [[wikt:term|term]]\n"
        "__NOTOC__\n"
    )
    assert strip_wikitext(raw).split("\n") == [
        "Abraham Lincoln (born 1809) was a lawyer and Whig leader. See the site or .",
        "Early life",
        "He was born in H2O county.",
        "Formula gone. term",
    ]


def test_strip_wikitext_unbalanced_and_bad_input() -> None:
    from course_utils.data import strip_wikitext

    assert strip_wikitext("text {{unclosed template") == "text"
    assert strip_wikitext("a [[link without end") == "a link without end"
    assert strip_wikitext("stray ]] bracket }} here") == "stray ]] bracket }} here"
    assert strip_wikitext("") == ""
    with pytest.raises(TypeError, match="str of MediaWiki markup"):
        strip_wikitext(b"bytes")  # type: ignore[arg-type]


def test_load_wikipedia_articles_are_clean() -> None:
    from course_utils.data import load_wikipedia

    articles = load_wikipedia()
    titles = [t for t, _ in articles]
    assert len(articles) == 106 and "Albedo" in titles and "AccessibleComputing" not in titles  # a redirect
    text = "\n".join(body for _, body in articles)
    assert 400_000 < len(text.split()) < 500_000
    for leftover in ("{{", "}}", "[[", "]]", "<ref", "&nbsp;", "'''", "{|"):
        assert text.count(leftover) < 5, leftover
    assert dict(articles)["Albedo"].startswith("Albedo or reflection coefficient, derived from Latin albedo")


def test_word_similarity_and_analogy_sets() -> None:
    from course_utils.data import load_analogies, load_word_similarity

    ws, sl = load_word_similarity("wordsim353"), load_word_similarity("simlex999")
    assert len(ws) == 353 and ws[0] == ("love", "sex", 6.77)
    assert len(sl) == 999 and sl[0] == ("old", "new", 1.58)
    assert all(0 <= s <= 10 for *_, s in ws + sl)
    questions = load_analogies()
    assert len(questions) == 19544 and questions[0] == (
        "capital-common-countries",
        "athens",
        "greece",
        "baghdad",
        "iraq",
    )
    assert len({q[0] for q in questions}) == 14
    with pytest.raises(ValueError, match="unknown similarity set 'men'"):
        load_word_similarity("men")


def test_malformed_similarity_line_is_named(data_copy: Path) -> None:
    from course_utils.data import load_word_similarity

    path = data_copy / "embeddings" / "wordsim353.tsv"
    path.write_text(path.read_text() + "lonely\n")
    manifest = data_copy / "MANIFEST.sha256"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    lines = [f"{digest}  embeddings/wordsim353.tsv" if line.endswith("embeddings/wordsim353.tsv") else line
             for line in manifest.read_text().splitlines()]  # fmt: skip
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.raises(data.DataFileError, match=r"wordsim353.tsv line 356 is not 'word<TAB>word<TAB>score'"):
        load_word_similarity("wordsim353")
