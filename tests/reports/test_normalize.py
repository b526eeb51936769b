from __future__ import annotations

import pytest

from cloud.reports.normalize import MAX_TEXT_CHARS, normalize, strip_diacritics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("đèn đỏ hư", "den do hu"),
        ("Kẹt xe ở Ngã Tư Hàng Xanh", "Ket xe o Nga Tu Hang Xanh"),
        ("ĐƯỜNG Ổ GÀ", "DUONG O GA"),
        ("xe máy", "xe may"),
    ],
)
def test_strip_diacritics(text, expected):
    assert strip_diacritics(text) == expected


@pytest.mark.parametrize(
    ("text", "accented", "ascii_"),
    [
        ("TNGT!!", "tai nạn giao thông", "tai nan giao thong"),
        ("xm dau tren via he", "xe máy dau tren via he", "xe may dau tren via he"),
        ("Đèn đỏ hư, ko ai sửa", "đèn đỏ hư không ai sửa", "den do hu khong ai sua"),
        ("kẹt xeeee quáaaa", "kẹt xe quá", "ket xe qua"),
        (
            "CSGT ơi, oto đậu sai",
            "cảnh sát giao thông ơi ô tô đậu sai",
            "canh sat giao thong oi o to dau sai",
        ),
    ],
)
def test_normalize_views(text, accented, ascii_):
    norm = normalize(text)
    assert norm.accented == accented
    assert norm.ascii == ascii_
    assert norm.original == text


def test_decomposed_and_composed_input_normalise_alike():
    composed = "Kẹt xe"
    decomposed = "Ke\u0323t xe"
    assert normalize(decomposed).accented == normalize(composed).accented


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("kẹt xe quá", "vi"),
        ("ket xe o nga tu so", "vi"),
        ("den do hu", "vi"),
        ("the traffic light is broken at the junction", "en"),
        ("car parked on the sidewalk", "en"),
        ("", "vi"),
    ],
)
def test_language(text, language):
    assert normalize(text).language == language


def test_long_text_is_cut():
    norm = normalize("kẹt xe " * 5000)
    assert len(norm.accented) <= MAX_TEXT_CHARS
