"""Print the classifier's confusion matrix and errors on the project's report test set.

Run: ``.venv/bin/python -m tests.reports.confusion_matrix``
"""

from __future__ import annotations

from pathlib import Path

from cloud.reports.evaluation import (
    category_accuracy,
    confusion_table,
    evaluate,
    load_tsv,
    urgency_accuracy,
)

DATA = Path(__file__).parent / "data"


def main() -> int:
    for name in ("reports_vi.tsv", "reports_en.tsv", None):
        files = [DATA / name] if name else sorted(DATA.glob("reports_*.tsv"))
        outcomes = evaluate([r for f in files for r in load_tsv(f)])
        missed = [o for o in outcomes if o.missed_emergency]
        print(f"== {name or 'all'}: {len(outcomes)} reports")
        print(f"category accuracy {category_accuracy(outcomes):.3f}")
        print(f"urgency accuracy  {urgency_accuracy(outcomes):.3f}")
        print(f"missed emergencies {len(missed)}")
        print(confusion_table(outcomes))
        print()
    print("== errors")
    for o in outcomes:
        if o.category is not o.report.category or o.urgency is not o.report.urgency:
            print(
                f"{o.report.source}: expected {o.report.category}/{o.report.urgency} "
                f"got {o.category}/{o.urgency}: {o.report.text}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
