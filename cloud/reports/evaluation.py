"""Evaluation of the report classifier on a labelled TSV set (category, urgency, text)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cloud.reports.classify import Category, Urgency, classify

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LabelledReport:
    """One test report with its expected labels."""

    text: str
    category: Category
    urgency: Urgency
    source: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The classifier's answer for one labelled report."""

    report: LabelledReport
    category: Category
    urgency: Urgency

    @property
    def missed_emergency(self) -> bool:
        """An emergency that the classifier did not flag."""
        return self.report.urgency is Urgency.EMERGENCY and self.urgency is not Urgency.EMERGENCY


def load_tsv(path: Path) -> list[LabelledReport]:
    """Read a labelled TSV file with the header ``category, urgency, text``.

    Args:
        path: The file.

    Returns:
        The reports, in file order.

    Raises:
        ValueError: On an unknown label or a malformed row (the message names the line).
    """
    reports: list[LabelledReport] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for line, row in enumerate(reader, start=2):
            try:
                reports.append(
                    LabelledReport(
                        text=row["text"],
                        category=Category(row["category"]),
                        urgency=Urgency(row["urgency"]),
                        source=f"{path.name}:{line}",
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{line}: bad row {row!r}: {exc}") from exc
    return reports


def evaluate(reports: Sequence[LabelledReport]) -> list[Outcome]:
    """Classify every report.

    Args:
        reports: The labelled reports.

    Returns:
        One outcome per report, in order.
    """
    outcomes = []
    for report in reports:
        result = classify(report.text)
        outcomes.append(Outcome(report, result.category, result.urgency))
    return outcomes


def category_accuracy(outcomes: Sequence[Outcome]) -> float:
    """Share of reports whose category is right (0 for an empty set)."""
    if not outcomes:
        return 0.0
    return sum(o.category is o.report.category for o in outcomes) / len(outcomes)


def urgency_accuracy(outcomes: Sequence[Outcome]) -> float:
    """Share of reports whose urgency is right (0 for an empty set)."""
    if not outcomes:
        return 0.0
    return sum(o.urgency is o.report.urgency for o in outcomes) / len(outcomes)


def confusion_table(outcomes: Sequence[Outcome]) -> str:
    """The category confusion matrix as text (rows: expected, columns: predicted)."""
    labels = list(Category)
    short = [c.value[:8] for c in labels]
    lines = ["expected \\ predicted".ljust(20) + " ".join(s.rjust(8) for s in short)]
    for expected in labels:
        counts = [
            sum(o.report.category is expected and o.category is got for o in outcomes)
            for got in labels
        ]
        lines.append(expected.value.ljust(20) + " ".join(str(c).rjust(8) for c in counts))
    return "\n".join(lines)
