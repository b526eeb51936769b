"""Generates the labelled training corpus of the report classifier (seeded, reproducible).

A report is a scenario (:mod:`cloud.reports.training.phrases`: labels fixed) stated by one of
its cores at a place of one of six cities, with 0-3 remarks, sometimes wrapped in the small
talk people add, then written in one style:

- ``vi``: Vietnamese with diacritics (capitals, punctuation and spacing varied);
- ``ascii``: the same typed without marks;
- ``teen``: teencode ("ko", "dc", "j", "bjo", "tnạn", "ng", "wá"…), marks dropped on some words,
  letters repeated, emoticons;
- ``mix``: Vietnamese (with or without marks) with English words ("accident", "traffic jam",
  "parking", "help");
- ``en``: English as foreigners write it, place names without marks.

Typos (a letter dropped, doubled or swapped) are added to some reports in every style. The
hand-written rows of ``handwritten.tsv`` (hard cases) are appended as they are.

Run ``python -m cloud.reports.training.corpus`` to rewrite ``cloud/reports/data/corpus.tsv``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cloud.reports.normalize import strip_diacritics
from cloud.reports.training.phrases import (
    CITY_FORMS,
    CLOSER_EN,
    CLOSER_VI,
    CONTEXT_EN,
    CONTEXT_VI,
    LANDMARKS_EN,
    LANDMARKS_VI,
    PARKED_VI,
    PLACES,
    SCENARIOS,
    VEHICLES_EN,
    VEHICLES_VI,
    Scenario,
)

logger = logging.getLogger(__name__)

DATA: Final = Path(__file__).resolve().parent.parent / "data"
CORPUS: Final = DATA / "corpus.tsv"
HANDWRITTEN: Final = DATA / "handwritten.tsv"
COLUMNS: Final = ("category", "urgency", "kinds", "subtype", "style", "group", "text")
STYLES: Final = ("vi", "ascii", "teen", "mix", "en")
STYLE_WEIGHTS: Final = (0.3, 0.22, 0.2, 0.1, 0.18)
SEED: Final = 20261207
CATEGORY_SHARES: Final = {
    "accident": 0.17,
    "congestion": 0.12,
    "signal_fault": 0.13,
    "illegal_parking": 0.13,
    "dangerous_driving": 0.15,
    "road_hazard": 0.15,
    "other": 0.15,
}
"""How often each category is drawn (a scenario's weight counts within its category)."""
SIZE: Final = 3000

TEENCODE: Final[dict[str, tuple[str, ...]]] = {
    "không": ("ko", "k", "hok", "hông", "khum", "kh", "k0"),
    "được": ("dc", "đc", "đk", "dk"),
    "gì": ("j", "gi"),
    "rồi": ("r", "rùi", "roài"),
    "bây giờ": ("bjo", "bh", "bi giờ", "h"),
    "người": ("ng", "ngừi", "ngươi"),
    "tai nạn": ("tnạn", "tn", "tai nan", "TNGT"),
    "đường": ("đg", "dg", "đường"),
    "quá": ("wá", "qá", "quáaa", "wa", "qa"),
    "vậy": ("z", "dz", "v", "zậy"),
    "với": ("vs", "với"),
    "mọi người": ("mn", "mng", "mọi ng", "m.n"),
    "cũng": ("cx", "cũg"),
    "biết": ("bít", "bik", "bt"),
    "nhiều": ("nhìu",),
    "luôn": ("lun",),
    "đang": ("đag", "dag"),
    "trước": ("trc",),
    "xe máy": ("xm", "xe may", "xe máy"),
    "ô tô": ("oto", "ôtô", "o to", "xe hơi"),
    "như thế nào": ("ntn",),
    "thằng": ("thg",),
    "giúp": ("giùm", "júp", "zúp"),
    "nhé": ("nha", "nhe", "nhá"),
    "thôi": ("thui",),
    "anh em": ("ae",),
    "cảnh sát giao thông": ("csgt", "CSGT"),
    "phút": ("p", "ph"),
    "gọi": ("goi", "gọi"),
    "bị": ("bị", "bi", "bjk"),
    "thấy": ("thấy", "thay", "thấyy"),
    "nguy hiểm": ("nguy hiểm", "ngu hiểm", "nguy hiem"),
    "đi": ("đii", "di"),
}
EMOTICONS: Final = (" :(", " :((", " 😡", " !!!", " ??", " 😭", " -_-", " >.<", " =))", "!!", "")

ENGLISH_IN_VI: Final[dict[str, tuple[str, ...]]] = {
    "tai nạn": ("accident", "crash"),
    "kẹt xe": ("traffic jam", "kẹt xe"),
    "ùn tắc": ("traffic jam", "jam"),
    "tắc đường": ("traffic jam",),
    "đậu": ("parking", "park"),
    "đỗ": ("parking", "park"),
    "nguy hiểm": ("dangerous", "nguy hiểm vl", "so dangerous"),
    "gấp": ("urgent", "asap", "gấp"),
    "giúp": ("help", "giúp"),
    "đèn giao thông": ("traffic light", "đèn"),
    "đèn tín hiệu": ("traffic light",),
    "cảnh sát": ("police",),
    "ổ gà": ("pothole",),
    "ngược chiều": ("wrong way",),
    "cấp cứu": ("cấp cứu", "ambulance", "emergency"),
    "bị thương": ("bị injured", "bị thương"),
    "vỉa hè": ("sidewalk", "vỉa hè"),
    "ngập": ("flood", "ngập"),
    "cây đổ": ("tree down", "cây đổ"),
    "đua xe": ("racing", "đua xe"),
    "xe tải": ("truck", "xe tải"),
    "camera": ("cam", "camera"),
}
ENGLISH_ADDS: Final = (" pls", " omg", " help!!", " so bad", " seriously", " wtf", " asap", "")
_WORD: Final = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled report of the corpus."""

    category: str
    urgency: str
    kinds: str
    subtype: str
    style: str
    group: str
    """Which core phrase the row states (``hw`` for hand-written rows): the CV folds group it."""
    text: str


def _pick(rng: random.Random, items: Sequence[str]) -> str:
    return items[rng.randrange(len(items))]


def _place_vi(rng: random.Random) -> str:
    city = _pick(rng, list(PLACES))
    street = _pick(rng, PLACES[city])
    form = rng.random()
    if form < 0.25:
        other = _pick(rng, PLACES[city]).removeprefix("đường ").removeprefix("phố ")
        core = street.removeprefix("đường ").removeprefix("phố ")
        return f"ngã tư {core} - {other}" if core != other else f"ở {street}"
    if form < 0.4:
        return f"{street} gần {_pick(rng, LANDMARKS_VI)}"
    if form < 0.6:
        return f"{street}, {_pick(rng, CITY_FORMS[city])}"
    if form < 0.7:
        return f"đoạn {street} đi {_pick(rng, CITY_FORMS[city])}" if rng.random() < 0.3 else street
    return street


def _place_en(rng: random.Random) -> str:
    city = _pick(rng, list(PLACES))
    street = strip_diacritics(_pick(rng, PLACES[city]))
    bare = street.removeprefix("duong ").removeprefix("pho ").title()
    town = strip_diacritics(_pick(rng, CITY_FORMS[city]))
    form = rng.random()
    if form < 0.3:
        return f"on {bare} street"
    if form < 0.5:
        other = strip_diacritics(_pick(rng, PLACES[city])).removeprefix("duong ").title()
        return f"at the {bare} and {other} intersection"
    if form < 0.7:
        return f"near {_pick(rng, LANDMARKS_EN)} on {bare}"
    return f"on {bare} in {town}"


def _fill(template: str, rng: random.Random, english: bool) -> str:
    vehicles = VEHICLES_EN if english else VEHICLES_VI
    veh = _pick(rng, vehicles)
    veh2 = _pick(rng, [v for v in vehicles if v != veh])
    loc = _place_en(rng) if english else _place_vi(rng)
    if not english and rng.random() < 0.5 and not loc.startswith(("ở ", "ngã", "đoạn")):
        loc = _pick(rng, ("ở ", "tại ", "trên ", "")) + loc
    return template.format(
        loc=loc,
        veh=veh,
        veh2=veh2,
        pveh=_pick(rng, PARKED_VI),
        n=rng.choice((2, 3, 4, 5)),
        mins=rng.choice((15, 20, 30, 40, 45, 60)),
    )


def _compose(sc: Scenario, english: bool, rng: random.Random) -> tuple[str, int]:
    cores = sc.en_core if english else sc.vi_core
    more = sc.en_more if english else sc.vi_more
    core_index = rng.randrange(len(cores))
    core = _fill(cores[core_index], rng, english)
    if sc.bare:
        parts = [core]
        if more and rng.random() < 0.4:
            parts.append(_pick(rng, more))
        return ", ".join(parts), core_index
    n_more = rng.choices((0, 1, 2, 3), (0.15, 0.45, 0.3, 0.1))[0] if more else 0
    told_by_remark = bool(sc.kinds) and sc.subtype != "violence"  # the remark is the emergency
    if told_by_remark:
        n_more = max(n_more, 1)
    parts = [core, *(_fill(m, rng, english) for m in rng.sample(more, min(n_more, len(more))))]
    sep = _pick(rng, (", ", ". ", " ", " - ", "... ", ", "))
    text = sep.join(parts)
    if rng.random() < 0.25:  # rambling: small talk before and after
        context, closer = (CONTEXT_EN, CLOSER_EN) if english else (CONTEXT_VI, CLOSER_VI)
        text = f"{_pick(rng, context)} {text}. {_pick(rng, closer)}"
    elif (
        rng.random() < 0.1 and not told_by_remark
    ):  # short: the core alone, sometimes without the place
        text = re.split(r" (?:ở|tại|trên|on|at|near) ", core)[0] if rng.random() < 0.5 else core
    return text, core_index


def _typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    i = rng.randrange(len(words))
    w = words[i]
    if len(w) > 3:
        j = rng.randrange(1, len(w) - 1)
        kind = rng.random()
        if kind < 0.4:
            w = w[:j] + w[j + 1 :]
        elif kind < 0.7:
            w = w[:j] + w[j] + w[j:]
        else:
            w = w[: j - 1] + w[j] + w[j - 1] + w[j + 1 :]
    words[i] = w
    return " ".join(words)


def _replace_phrases(
    text: str, table: dict[str, tuple[str, ...]], p: float, rng: random.Random
) -> str:
    for phrase, options in table.items():
        if phrase in text and rng.random() < p:
            text = text.replace(phrase, _pick(rng, options))
    return text


def _teencode(text: str, rng: random.Random) -> str:
    text = _replace_phrases(text.lower(), TEENCODE, 0.75, rng)
    words = [strip_diacritics(w) if rng.random() < 0.25 else w for w in text.split(" ")]
    text = " ".join(words)
    if rng.random() < 0.3:
        text = re.sub(r"(\w)(\W*)$", lambda m: m.group(1) * rng.randint(2, 4) + m.group(2), text)
    return text + _pick(rng, EMOTICONS)


def _mix(text: str, rng: random.Random) -> str:
    text = _replace_phrases(text, ENGLISH_IN_VI, 0.6, rng)
    if rng.random() < 0.4:
        text = strip_diacritics(text)
    return text + _pick(rng, ENGLISH_ADDS)


def _surface(text: str, rng: random.Random) -> str:
    """Capitals, final punctuation and spacing as people type them."""
    roll = rng.random()
    if roll < 0.4:
        text = text[:1].upper() + text[1:]
    elif roll < 0.5:
        text = text.upper() if len(text) < 60 else text
    else:
        text = text.lower()
    if rng.random() < 0.3:
        text += _pick(rng, (".", "!", "!!", "...", " ?", ""))
    return re.sub(r"\s+", " ", text).strip()


def write_style(text: str, style: str, rng: random.Random) -> str:
    """Write one Vietnamese (or, for ``en``, English) report in a style.

    Args:
        text: The composed report.
        style: One of :data:`STYLES`.
        rng: The generator's random source.

    Returns:
        The text as a citizen of that style would type it.
    """
    if style == "ascii":
        text = strip_diacritics(text)
    elif style == "teen":
        text = _teencode(text, rng)
    elif style == "mix":
        text = _mix(text, rng)
    elif style == "en":
        text = strip_diacritics(text)
    if rng.random() < 0.2:
        text = _typo(text, rng)
    return _surface(text, rng)


def generate(size: int = SIZE, seed: int = SEED) -> list[Row]:
    """Draw ``size`` distinct reports.

    Args:
        size: How many generated rows (hand-written ones come on top).
        seed: Random seed (the committed corpus uses :data:`SEED`).

    Returns:
        The rows, in drawing order, without duplicate texts.
    """
    rng = random.Random(seed)
    categories = list(CATEGORY_SHARES)
    shares = list(CATEGORY_SHARES.values())
    rows: list[Row] = []
    seen: set[str] = set()
    attempts = 0
    while len(rows) < size and attempts < size * 20:
        attempts += 1
        category = rng.choices(categories, shares)[0]
        within = [sc for sc in SCENARIOS if sc.category == category]
        sc = rng.choices(within, [sc.weight for sc in within])[0]
        style = rng.choices(STYLES, STYLE_WEIGHTS)[0]
        if not sc.en_core and style == "en":
            style = "vi"
        composed, core_index = _compose(sc, style == "en", rng)
        text = write_style(composed, style, rng)
        key = text.lower()
        if key in seen or (not _WORD.search(text) and sc.subtype != "unclear"):
            continue
        seen.add(key)
        kinds = ",".join(sc.kinds) or "-"
        lang = "en" if style == "en" else "vi"
        group = f"{sc.category}/{sc.urgency}/{sc.subtype}/{lang}{core_index}"
        rows.append(Row(sc.category, sc.urgency, kinds, sc.subtype, style, group, text))
    return rows


def read_rows(path: Path) -> list[Row]:
    """Read a corpus TSV (columns :data:`COLUMNS`).

    Raises:
        ValueError: On a row with a missing column (the message names the line).
    """
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        rows = []
        for line, rec in enumerate(reader, start=2):
            try:
                rows.append(Row(*(rec[c] for c in COLUMNS)))
            except (KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{line}: bad row {rec!r}") from exc
    return rows


def write_rows(path: Path, rows: Sequence[Row]) -> None:
    """Write rows as a TSV with the header :data:`COLUMNS`."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(COLUMNS) + "\n")
        for r in rows:
            text = r.text.replace("\t", " ").replace("\n", " ")
            fields = (r.category, r.urgency, r.kinds, r.subtype, r.style, r.group, text)
            handle.write("\t".join(fields))
            handle.write("\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Write the corpus (generated rows, then the hand-written ones)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    rows = generate(args.size, args.seed)
    texts = {r.text.lower() for r in rows}
    rows += [r for r in read_rows(HANDWRITTEN) if r.text.lower() not in texts]
    write_rows(args.out, rows)
    logging.basicConfig(level=logging.INFO)
    logger.info("%d rows written to %s", len(rows), args.out)


if __name__ == "__main__":
    main()
