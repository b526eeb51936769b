from __future__ import annotations

import unicodedata
from collections import Counter

import numpy as np
import pytest

from cloud.reports.model import MODEL_PATH, char_ngrams, default_model, load_model, negated_words
from cloud.reports.normalize import normalize, strip_diacritics
from cloud.reports.training.corpus import CORPUS, HANDWRITTEN, SIZE, generate, read_rows
from cloud.reports.training.phrases import PLACES


@pytest.fixture(scope="module")
def corpus():
    return read_rows(CORPUS)


def test_corpus_covers_categories_urgencies_styles_and_cities(corpus):
    assert len(corpus) >= 2000
    assert len({r.text for r in corpus}) == len(corpus)
    categories = Counter(r.category for r in corpus)
    assert len(categories) == 7 and min(categories.values()) >= 200
    assert min(Counter(r.urgency for r in corpus).values()) >= 150
    styles = Counter(r.style for r in corpus)
    assert set(styles) == {"vi", "ascii", "teen", "mix", "en"} and min(styles.values()) >= 150
    kinds = Counter(k for r in corpus for k in r.kinds.split(",") if k != "-")
    assert set(kinds) == {"injury", "fire", "trapped", "violence"}
    folded = [strip_diacritics(r.text).lower() for r in corpus]
    for city, streets in PLACES.items():
        names = {strip_diacritics(s).lower().removeprefix("duong ") for s in streets}
        hits = sum(any(n in text for n in names) for text in folded)
        assert hits >= 50, city


def test_corpus_is_what_the_generator_writes(corpus):
    generated = generate()
    assert [r.text for r in corpus[:SIZE]] == [r.text for r in generated]
    handwritten = read_rows(HANDWRITTEN)
    assert {r.text for r in handwritten} <= {r.text for r in corpus}


def test_char_grams_match_scikit_learn_char_wb():
    text_module = pytest.importorskip("sklearn.feature_extraction.text")
    analyse = text_module.TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    for text in ("den do hu o nga tu", "a b", "xe  may   chay", "kẹt xe quá"):
        assert sorted(char_ngrams(text, 2, 5)) == sorted(analyse(text))


def test_negation_scope_stops_at_the_clause():
    norm = normalize("Chưa thấy ai bị thương, nhưng có người nằm bất động")
    assert negated_words(norm.clauses[0]) == ["chua", "neg_thay", "neg_ai", "neg_bi", "neg_thuong"]
    assert "neg_" not in " ".join(negated_words(norm.clauses[1]))


def test_model_file_is_plain_arrays_and_records_its_corpus(corpus):
    import hashlib

    model = load_model(MODEL_PATH)  # np.load(allow_pickle=False) inside
    digest = hashlib.sha256(CORPUS.read_bytes()).hexdigest()
    assert model.meta["corpus_sha256"] == digest
    assert model.meta["rows"] == len(corpus)
    assert 0 < model.meta["emergency_threshold"] <= 0.5
    assert MODEL_PATH.stat().st_size < 3_000_000
    assert set(model.heads) == {"category", "urgency", "emergency", "kinds", "subtype"}


def test_model_is_reproduced_from_the_corpus(corpus):
    """Retraining on the committed corpus gives the committed model's answers (about 30 s)."""
    pytest.importorskip("sklearn")
    from cloud.reports.training.train import fit, prepare

    packaged = default_model()
    prep = prepare(corpus)
    retrained = fit(prep, range(len(corpus)), packaged.meta["emergency_threshold"])
    assert {n: len(b.vocabulary) for n, b in retrained.blocks.items()} == {
        n: len(b.vocabulary) for n, b in packaged.blocks.items()
    }
    for name, head in packaged.heads.items():
        np.testing.assert_allclose(retrained.heads[name].coef, head.coef, atol=2e-3)
    sample = [normalize(unicodedata.normalize("NFC", r.text)) for r in corpus[::10]]
    for norm in sample:
        a, b = retrained.predict(norm), packaged.predict(norm)
        for name in ("category", "urgency", "subtype"):
            assert max(a[name], key=a[name].get) == max(b[name], key=b[name].get)
