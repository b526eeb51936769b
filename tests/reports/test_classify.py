from __future__ import annotations

from pathlib import Path

import pytest

from cloud.reports.classify import Category, EmergencyKind, Urgency, classify
from cloud.reports.evaluation import category_accuracy, evaluate, load_tsv

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("đèn đỏ hư", Category.SIGNAL_FAULT),
        ("den do hu o nga tu", Category.SIGNAL_FAULT),
        ("kẹt xe", Category.CONGESTION),
        ("TNGT o cau Sai Gon", Category.ACCIDENT),
        ("xe may di nguoc chieu", Category.DANGEROUS_DRIVING),
        ("xm vượt đèn đỏ", Category.DANGEROUS_DRIVING),
        ("ô tô đậu trên vỉa hè", Category.ILLEGAL_PARKING),
        ("ổ gà giữa đường", Category.ROAD_HAZARD),
        ("car parked on the pavement", Category.ILLEGAL_PARKING),
        ("how do I pay a fine", Category.OTHER),
        ("xe oto bốc cháy", Category.ACCIDENT),
    ],
)
def test_category_of_key_phrases(text, category):
    assert classify(text).category is category


def test_ambiguous_words_need_their_marks():
    # "chạy" (run) is not "cháy" (fire); "cầu vượt" (flyover) is not overtaking
    assert not classify("xe chạy nhanh quá").emergency
    assert classify("xe cháy trên cầu").emergencies == (EmergencyKind.FIRE,)
    assert classify("ô tô đậu dưới cầu vượt").category is Category.ILLEGAL_PARKING


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("tai nạn, 1 người bị thương nặng", ("113", "115")),
        ("xe tai boc chay tren cau", ("114",)),
        ("có người mắc kẹt trong xe", ("114", "115")),
        ("a pedestrian was hit, bleeding badly", ("113", "115")),
    ],
)
def test_emergency_numbers(text, numbers):
    result = classify(text)
    assert result.urgency is Urgency.EMERGENCY
    assert result.emergency_numbers == numbers


@pytest.mark.parametrize(
    "text",
    [
        "va chạm nhẹ, không ai bị thương",
        "va cham nhe, may khong ai bi thuong",
        "minor crash, nobody hurt",
        "two cars collided, no injuries",
    ],
)
def test_negated_injury_is_not_an_emergency(text):
    result = classify(text)
    assert result.category is Category.ACCIDENT
    assert result.urgency is Urgency.HIGH


def test_test_set_size():
    vi = load_tsv(DATA / "reports_vi.tsv")
    en = load_tsv(DATA / "reports_en.tsv")
    assert len(vi) >= 150
    assert len(en) >= 50
    assert len({r.text for r in vi + en}) == len(vi) + len(en)
    assert {r.category for r in vi} == set(Category)
    assert {r.category for r in en} == set(Category)


@pytest.mark.parametrize("name", ["reports_vi.tsv", "reports_en.tsv"])
def test_quality_gate(name):
    outcomes = evaluate(load_tsv(DATA / name))
    missed = [o.report.source for o in outcomes if o.missed_emergency]
    assert missed == []
    assert category_accuracy(outcomes) >= 0.90
