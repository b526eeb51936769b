"""The learned report model at serving time: features and linear heads, numpy only.

Trained by :mod:`cloud.reports.training.train` (scikit-learn) on the committed corpus
``cloud/reports/data/corpus.tsv`` and exported to ``cloud/reports/data/model.npz``: the
vocabularies, inverse document frequencies and the weights of each head, as plain arrays
(no pickle: nothing executes on load, and the file does not depend on the scikit-learn
version). The service never imports scikit-learn; the featuriser below is the one the trainer
uses, so training and serving read a text the same way.

Features, each block TF-IDF weighted (sublinear tf) and L2-normalised:

- ``chars``: character 2-5-grams inside word boundaries of the diacritic-free text, so
  "đậu", "dau" and "đau" share most of their grams and typos cost only a few;
- ``marks``: character 2-4-grams of the accented text that carry a Vietnamese mark, so
  "cháy" (fire) and "chạy" (run) differ when the citizen typed the marks;
- ``words``: word 1-3-grams of the diacritic-free clauses, each word within four words after a
  negation ("không", "chưa", "no", "nobody"…) prefixed ``neg_``, so "không ai bị thương" and
  "chưa thấy ai bị thương" are not read as an injury.

Hand-written rather than scikit-learn's vectoriser at serving time: scoring one report this
way costs about a tenth of a millisecond, without importing scikit-learn in the service.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from cloud.reports.normalize import NormalizedText

logger = logging.getLogger(__name__)

MODEL_PATH: Final = Path(__file__).resolve().parent / "data" / "model.npz"
BLOCKS: Final = ("chars", "marks", "words")
NEGATION_CUES: Final = frozenset(
    {
        "khong", "chua", "chang", "cha", "cham", "no", "not", "nobody", "none", "never",
        "without", "nothing", "noone", "khoi",
    }
)  # fmt: skip
NEGATION_SCOPE: Final = 4
"""Words after a negation cue that are read as negated (within the clause)."""
_SPACES: Final = re.compile(r"\s+")
_MARKED: Final = re.compile("[^\x00-\x7f]")

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def char_ngrams(text: str, low: int, high: int) -> list[str]:
    """Character n-grams inside word boundaries, each word padded with one space.

    Same grams as scikit-learn's ``analyzer="char_wb"`` (a short word counted once).

    Args:
        text: Normalised text.
        low: Shortest gram.
        high: Longest gram.

    Returns:
        The grams, with repeats.
    """
    grams: list[str] = []
    for word in _SPACES.sub(" ", text).split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if size <= n:
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


def marked_ngrams(accented: str) -> list[str]:
    """Character 2-4-grams of the accented text that contain a non-ASCII letter."""
    return [g for g in char_ngrams(accented, 2, 4) if _MARKED.search(g)]


def negated_words(clause: str) -> list[str]:
    """The clause's words, those in a negation's scope prefixed with ``neg_``."""
    out: list[str] = []
    left = 0
    for word in clause.split():
        if word in NEGATION_CUES:
            out.append(word)
            left = NEGATION_SCOPE
        elif left > 0:
            out.append(f"neg_{word}")
            left -= 1
        else:
            out.append(word)
    return out


def word_ngrams(clauses: Iterable[str], high: int = 3) -> list[str]:
    """Word 1-``high``-grams of each clause (grams never span two clauses)."""
    grams: list[str] = []
    for clause in clauses:
        words = negated_words(clause)
        for n in range(1, high + 1):
            grams.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return grams


def analyse(norm: NormalizedText) -> dict[str, list[str]]:
    """The raw features of one text, per block (see the module docstring)."""
    clauses = norm.clauses or (norm.ascii,)
    return {
        "chars": char_ngrams(norm.ascii, 2, 5),
        "marks": marked_ngrams(norm.accented),
        "words": word_ngrams(clauses),
    }


@dataclass(frozen=True, slots=True)
class Block:
    """One feature block: gram → column, and the columns' inverse document frequency."""

    vocabulary: Mapping[str, int]
    idf: FloatArray
    offset: int


@dataclass(frozen=True, slots=True)
class Head:
    """One linear head: ``softmax`` over classes, or one ``sigmoid`` per class."""

    classes: tuple[str, ...]
    coef: FloatArray
    intercept: FloatArray
    multiclass: bool

    def probabilities(self, cols: IntArray, vals: FloatArray) -> dict[str, float]:
        """Class probabilities of one sparse feature vector."""
        logits = self.coef[:, cols] @ vals + self.intercept
        if self.multiclass:
            exp = np.exp(logits - logits.max())
            probs = exp / exp.sum()
        else:
            probs = 1.0 / (1.0 + np.exp(-logits))
        return {c: float(p) for c, p in zip(self.classes, probs, strict=True)}


@dataclass(frozen=True, slots=True)
class ReportModel:
    """The exported model: feature blocks, heads and the decision thresholds."""

    blocks: Mapping[str, Block]
    heads: Mapping[str, Head]
    meta: Mapping[str, Any]

    def vectorise(self, norm: NormalizedText) -> tuple[IntArray, FloatArray]:
        """Sparse TF-IDF vector of one text (column indices, values)."""
        cols: list[int] = []
        vals: list[float] = []
        for name, grams in analyse(norm).items():
            block = self.blocks[name]
            counts = Counter(g for g in grams if g in block.vocabulary)
            if not counts:
                continue
            idx = [block.vocabulary[g] for g in counts]
            weights = [
                (1.0 + math.log(c)) * float(block.idf[i])
                for i, c in zip(idx, counts.values(), strict=True)
            ]
            norm2 = math.sqrt(sum(w * w for w in weights))
            cols.extend(block.offset + i for i in idx)
            vals.extend(w / norm2 for w in weights)
        return np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=np.float32)

    def predict(self, norm: NormalizedText) -> dict[str, dict[str, float]]:
        """Every head's class probabilities for one text."""
        return self.predict_vector(*self.vectorise(norm))

    def predict_vector(self, cols: IntArray, vals: FloatArray) -> dict[str, dict[str, float]]:
        """Every head's class probabilities for one feature vector."""
        return {name: head.probabilities(cols, vals) for name, head in self.heads.items()}

    def known_share(self, norm: NormalizedText) -> float:
        """Share of the text's words that the model has seen (0 when there are none)."""
        words = norm.ascii.split()
        if not words:
            return 0.0
        vocab = self.blocks["words"].vocabulary
        return sum(w in vocab for w in words) / len(words)


def cosine(a: tuple[IntArray, FloatArray], b: tuple[IntArray, FloatArray]) -> float:
    """Cosine similarity of two sparse vectors from :meth:`ReportModel.vectorise`."""
    (ca, va), (cb, vb) = a, b
    if not len(ca) or not len(cb):
        return 0.0
    _, ia, ib = np.intersect1d(ca, cb, assume_unique=True, return_indices=True)
    dot = float(va[ia] @ vb[ib])
    return dot / float(np.linalg.norm(va) * np.linalg.norm(vb))


def save_model(
    path: Path, blocks: Mapping[str, Block], heads: Mapping[str, Head], meta: Mapping[str, Any]
) -> None:
    """Write the model as a compressed ``.npz`` of plain arrays (no pickled objects)."""
    arrays: dict[str, npt.NDArray[Any]] = {"meta": np.asarray(json.dumps(meta, sort_keys=True))}
    for name, block in blocks.items():
        grams = sorted(block.vocabulary, key=block.vocabulary.__getitem__)
        arrays[f"vocab_{name}"] = np.asarray(grams)
        arrays[f"idf_{name}"] = block.idf.astype(np.float32)
    for name, head in heads.items():
        arrays[f"classes_{name}"] = np.asarray(head.classes)
        arrays[f"coef_{name}"] = head.coef.astype(np.float16)
        arrays[f"intercept_{name}"] = head.intercept.astype(np.float32)
        arrays[f"multiclass_{name}"] = np.asarray(head.multiclass)
    with path.open("wb") as handle:
        np.savez_compressed(handle, allow_pickle=False, **arrays)


def load_model(path: Path = MODEL_PATH) -> ReportModel:
    """Read a model written by :func:`save_model`.

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: If it lacks a block or head the service needs.
    """
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        blocks: dict[str, Block] = {}
        offset = 0
        for name in BLOCKS:
            if f"vocab_{name}" not in data:
                raise ValueError(f"{path}: no feature block {name!r}")
            grams = [str(g) for g in data[f"vocab_{name}"]]
            blocks[name] = Block({g: i for i, g in enumerate(grams)}, data[f"idf_{name}"], offset)
            offset += len(grams)
        heads = {
            name: Head(
                tuple(str(c) for c in data[f"classes_{name}"]),
                data[f"coef_{name}"].astype(np.float32),
                data[f"intercept_{name}"],
                bool(data[f"multiclass_{name}"]),
            )
            for name in meta["heads"]
        }
    logger.info("report model loaded from %s (%d features)", path, offset)
    return ReportModel(blocks, heads, meta)


@lru_cache(maxsize=1)
def default_model() -> ReportModel:
    """The packaged model, loaded once per process."""
    return load_model(MODEL_PATH)


def feature_docs(norms: Sequence[NormalizedText]) -> dict[str, list[list[str]]]:
    """Raw features of many texts per block (the trainer's input)."""
    out: dict[str, list[list[str]]] = {name: [] for name in BLOCKS}
    for norm in norms:
        for name, grams in analyse(norm).items():
            out[name].append(grams)
    return out
