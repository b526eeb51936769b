"""Figures of the report classifier on a labelled TSV: accuracy per style, emergencies, confusion.

    python -m cloud.reports.training.evaluate tests/reports/data/heldout.tsv

A TSV has the columns ``category``, ``urgency`` and ``text``, optionally ``kinds`` (emergency
kinds, comma-separated, ``-`` for none) and ``style`` (``vi``, ``ascii``, ``teen``, ``mix``,
``en``; guessed from the text when absent).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloud.reports.classify import EMERGENCY_NUMBERS, Category, EmergencyKind, classify
from cloud.reports.model import ReportModel
from cloud.reports.training.corpus import Row

_MARKS = re.compile("[^\x00-\x7f]")


@dataclass(frozen=True, slots=True)
class Scored:
    """One labelled report and what the classifier (or the service) answered."""

    row: Row
    category: str
    urgency: str
    numbers: tuple[str, ...]

    @property
    def expected_numbers(self) -> set[str]:
        """The number each labelled emergency kind needs (115, 114, 113)."""
        kinds = [k for k in self.row.kinds.split(",") if k and k != "-"]
        return {EMERGENCY_NUMBERS[EmergencyKind(k)][0] for k in kinds}


def guess_style(text: str, source: str) -> str:
    """``en`` for the English file, ``vi`` with marks, else ``ascii``."""
    if source.endswith("_en.tsv"):
        return "en"
    return "vi" if _MARKS.search(text) else "ascii"


def read_labelled(path: Path) -> list[Row]:
    """Read a labelled TSV (see the module docstring).

    Raises:
        ValueError: On an unknown label (the message names the line).
    """
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for line, rec in enumerate(
            csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=2
        ):
            try:
                category = Category(rec["category"]).value
                text = rec["text"]
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path}:{line}: bad row {rec!r}") from exc
            style = rec.get("style") or guess_style(text, path.name)
            rows.append(
                Row(
                    category,
                    rec["urgency"],
                    rec.get("kinds") or "-",
                    rec.get("subtype") or "-",
                    style,
                    rec.get("group") or f"{path.name}:{line}",
                    text,
                )
            )
    return rows


def score_rows(rows: Iterable[Row], model: ReportModel | None = None) -> list[Scored]:
    """Classify every row in process."""
    out = []
    for row in rows:
        result = classify(row.text, model)
        out.append(
            Scored(row, result.category.value, result.urgency.value, result.emergency_numbers)
        )
    return out


def confusion(scored: Sequence[Scored]) -> dict[str, dict[str, int]]:
    """Rows: expected category; columns: predicted."""
    table: dict[str, dict[str, int]] = {c.value: dict.fromkeys(Category, 0) for c in Category}
    for s in scored:
        table[s.row.category][s.category] += 1
    return {k: {str(c): n for c, n in v.items()} for k, v in table.items()}


def _accuracy(items: Sequence[Scored]) -> float:
    return round(sum(s.category == s.row.category for s in items) / len(items), 4) if items else 0.0


def report(scored: Sequence[Scored]) -> dict[str, Any]:
    """Every figure the issue asks for, as a JSON-ready dict."""
    by_style: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        by_style[s.row.style].append(s)
    emergencies = [s for s in scored if s.row.urgency == "emergency"]
    others = [s for s in scored if s.row.urgency != "emergency"]
    missed = [s for s in emergencies if s.urgency != "emergency"]
    wrong_number = [s for s in emergencies if not s.expected_numbers <= set(s.numbers)]
    false_alarms = [s for s in others if s.urgency == "emergency"]
    errors = Counter((s.row.category, s.category) for s in scored if s.category != s.row.category)
    return {
        "n": len(scored),
        "category_accuracy": _accuracy(scored),
        "category_accuracy_by_style": {k: _accuracy(v) for k, v in sorted(by_style.items())},
        "n_by_style": {k: len(v) for k, v in sorted(by_style.items())},
        "urgency_accuracy": round(sum(s.urgency == s.row.urgency for s in scored) / len(scored), 4)
        if scored
        else 0.0,
        "emergencies": len(emergencies),
        "missed_emergencies": [s.row.text for s in missed],
        "emergencies_without_right_number": [s.row.text for s in wrong_number if s not in missed],
        "false_emergencies": len(false_alarms),
        "false_emergency_rate": round(len(false_alarms) / len(others), 4) if others else 0.0,
        "false_emergency_texts": [s.row.text for s in false_alarms],
        "top_confusions": [f"{a} -> {b}: {n}" for (a, b), n in errors.most_common(10)],
        "confusion": confusion(scored),
    }


def confusion_text(table: dict[str, dict[str, int]]) -> str:
    """The confusion matrix as aligned text (rows expected, columns predicted)."""
    names = list(table)
    head = "expected \\ predicted".ljust(20) + "".join(n[:8].rjust(9) for n in names)
    lines = [head]
    for name in names:
        lines.append(name.ljust(20) + "".join(str(table[name][c]).rjust(9) for c in names))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: figures of the packaged model on one or more labelled TSV files."""
    parser = argparse.ArgumentParser(description="Evaluate the report classifier.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--errors", action="store_true", help="list every misclassified text")
    args = parser.parse_args(argv)
    out = sys.stdout
    for path in args.files:
        scored = score_rows(read_labelled(path))
        figures = report(scored)
        shown = {k: v for k, v in figures.items() if k != "confusion"}
        out.write(f"== {path} ==\n{json.dumps(shown, indent=1, ensure_ascii=False)}\n")
        out.write(confusion_text(figures["confusion"]) + "\n")
        if args.errors:
            for s in scored:
                if s.category != s.row.category:
                    out.write(f"{s.row.category} -> {s.category}: {s.row.text}" + "\n")


if __name__ == "__main__":
    main()
