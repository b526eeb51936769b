"""Normalisation of Vietnamese and English report text.

Citizens write Vietnamese with or without diacritics, with typing shortcuts ("xm", "ko",
"dc") and abbreviations ("TNGT", "CSGT"). The classifier works on two views of one text:

- ``accented``: lower-case, NFC, punctuation removed, abbreviations expanded; diacritics kept,
  so that words that differ only by their marks ("cháy" fire vs "chạy" run) stay apart.
- ``ascii``: the same with diacritics removed and "đ" → "d", for text typed without marks.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

logger = logging.getLogger(__name__)

Language = Literal["vi", "en"]

MAX_TEXT_CHARS: Final = 4000
"""Longer input is cut before normalisation (bounded work per report)."""

ABBREVIATIONS: Final[dict[str, str]] = {
    "tngt": "tai nạn giao thông",
    "tnxh": "tai nạn",
    "csgt": "cảnh sát giao thông",
    "xm": "xe máy",
    "xemay": "xe máy",
    "oto": "ô tô",
    "otô": "ô tô",
    "ôtô": "ô tô",
    "xct": "xe container",
    "ko": "không",
    "k": "không",
    "kg": "không",
    "khg": "không",
    "hok": "không",
    "hông": "không",
    "dc": "được",
    "đc": "được",
    "ng": "người",
    "nguoj": "người",
    "bv": "bệnh viện",
    "đg": "đường",
    "dg": "đường",
    "dt": "điện thoại",
    "đt": "điện thoại",
    "j": "gì",
    "z": "vậy",
    "ntn": "như thế nào",
    "bt": "bình thường",
    "cx": "cũng",
    "vs": "với",
    "ms": "mới",
    "ns": "nói",
    "wa": "qua",
    "mn": "mọi người",
    "r": "rồi",
    "hix": "",
    "huhu": "",
    "tl": "tín hiệu",
    "gt": "giao thông",
    "tphcm": "thành phố hồ chí minh",
    "hcm": "hồ chí minh",
    "hn": "hà nội",
    "pls": "please",
    "plz": "please",
    "asap": "as soon as possible",
    "ppl": "people",
    "tnạn": "tai nạn",
    "tnan": "tai nạn",
    "bj": "bây giờ",
    "bjo": "bây giờ",
    "bjờ": "bây giờ",
    "bh": "bây giờ",
    "lun": "luôn",
    "nhìu": "nhiều",
    "wá": "quá",
    "qá": "quá",
    "dag": "đang",
    "đag": "đang",
    "trc": "trước",
    "ik": "đi",
    "dz": "vậy",
    "zậy": "vậy",
    "ngta": "người ta",
    "thg": "thằng",
    "ae": "anh em",
    "khum": "không",
    "k0": "không",
    "kh": "không",
    "hk": "không",
    "hem": "không",
    "đk": "được",
    "dk": "được",
    "ngừi": "người",
    "mng": "mọi người",
    "bít": "biết",
    "bik": "biết",
    "sđt": "số điện thoại",
    "rùi": "rồi",
    "thui": "thôi",
    "júp": "giúp",
    "zúp": "giúp",
    "giùm": "giúp",
    "vl": "",
    "vcl": "",
    "vkl": "",
    "cmnr": "",
    "ad": "admin",
}
"""Token → expansion. Single tokens only (matched after tokenisation)."""

_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_CLAUSE = re.compile(r"[,.;:!?…()\[\]\n\r]+|\s[-–—]+\s")
"""Where a clause ends: a negation ("không ai bị thương") does not reach past it."""
_SPACES = re.compile(r"\s+")
_REPEATS = re.compile(r"(\w)([\u0300-\u036f]*)(?:\1[\u0300-\u036f]*){2,}", re.UNICODE)
"""A letter typed three or more times ("quáaaa"), matched in NFD so marks do not hide it."""


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_VI_MARKS = re.compile("[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]")
_EN_WORDS: Final = _wordset(
    "the a an is are was were there at on in of to and with near my car cars traffic road "
    "street someone people please help light lights broken accident hit parked jam stuck "
    "blocked bike motorbike truck driver driving wrong way hole pothole fire injured hurt "
    "it this that has have been for from going very just no not"
)
_VI_ASCII_WORDS: Final = _wordset(
    "xe may o to duong nga tu ba nguoi bi tai nan ket tac den do hu khong co dang rat "
    "qua luc sang chieu toi nay cho tren duoi gan truoc sau cua va la thi oi nhe voi "
    "giao thong cau tren ho ga via he dau nhanh lan chay"
)


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """One report text in the views the classifier reads."""

    original: str
    accented: str
    ascii: str
    language: Language
    clauses: tuple[str, ...] = ()
    """The ascii view cut at punctuation (the learned model's word features read these)."""


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics ("đèn đỏ hư" → "den do hu").

    Args:
        text: Any Unicode text.

    Returns:
        The text with combining marks removed and "đ"/"Đ" mapped to "d"/"D".
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def _expand(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        expansion = ABBREVIATIONS.get(token)
        if expansion is None:
            out.append(token)
        elif expansion:
            out.extend(expansion.split())
    return out


def detect_language(accented: str) -> Language:
    """Guess Vietnamese or English; Vietnamese when in doubt (the city's default).

    Args:
        accented: Lower-case text, diacritics kept.

    Returns:
        ``"vi"`` if the text carries Vietnamese marks or more Vietnamese than English words,
        else ``"en"``.
    """
    if _VI_MARKS.search(accented):
        return "vi"
    tokens = accented.split()
    english = sum(token in _EN_WORDS for token in tokens)
    vietnamese = sum(token in _VI_ASCII_WORDS for token in tokens)
    return "en" if english > vietnamese else "vi"


def normalize(text: str) -> NormalizedText:
    """Normalise a report text into the views the classifier reads.

    Args:
        text: The citizen's text, any length (cut at :data:`MAX_TEXT_CHARS`).

    Returns:
        The normalised views and the guessed language.
    """
    cut = unicodedata.normalize("NFD", text[:MAX_TEXT_CHARS]).lower()
    cut = unicodedata.normalize("NFC", _REPEATS.sub(r"\1\2", cut))
    pieces = [_expand(_PUNCT.sub(" ", p.replace("_", " ")).split()) for p in _CLAUSE.split(cut)]
    accented = " ".join(token for piece in pieces for token in piece)
    ascii_text = strip_diacritics(accented)
    language = detect_language(accented)
    clauses = tuple(strip_diacritics(" ".join(piece)) for piece in pieces if piece)
    return NormalizedText(
        original=text, accented=accented, ascii=ascii_text, language=language, clauses=clauses
    )
