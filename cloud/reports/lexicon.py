"""The emergency safety net: explicit phrases for injury, fire, people trapped, violence (data).

The learned model (:mod:`cloud.reports.model`) decides category and urgency; these rules only
add emergencies the model might miss, so each phrase must be an unambiguous cue. A phrase that
also names a vehicle or a situation ("xe cứu thương không qua được", "cháy bóng đèn",
"signal is dead") is left to the model.

Each rule is a regular expression over one view of the normalised text (see
:mod:`cloud.reports.normalize`): ``"a"`` = without diacritics, ``"v"`` = with diacritics (only for
words whose marks decide the meaning: "cháy" fire vs "chạy" run, "máu" blood vs "màu" colour).
Patterns match on word boundaries, after the negated phrases of :data:`NEGATIONS` are removed.
"""

from __future__ import annotations

from typing import Final, Literal

View = Literal["a", "v"]
Rule = tuple[str, View, str]
"""(emergency kind, view, regex)."""

EMERGENCY_RULES: Final[tuple[Rule, ...]] = (
    # injury
    ("injury", "a", r"bi thuong|trong thuong|thuong (nang|tich)|nguy kich|bi dau nang"),
    ("injury", "a", r"chay (nhieu |rat nhieu )?mau|mau (me|chay|tuoi|loang)|be bet|dam mau"),
    ("injury", "v", r"máu"),
    ("injury", "a", r"bat tinh|ngat xiu|hon me|co giat|bat dong|khong (tho|cu dong|tinh lai)"),
    ("injury", "a", r"nam (im|song soai|la liet)|tu vong|chet (nguoi|tai cho)|thiet mang"),
    ("injury", "a", r"gay (chan|tay|xuong|co)|(goi|can|dua di) (xe )?cap cuu|goi 115"),
    ("injury", "a", r"(dam|tong|can|huc) (vao |trung |phai )?(nguoi|em be|hoc sinh|tre em|chau)"),
    ("injury", "a", r"injur(ed|ies|y)|bleed\w*|blood|unconscious|passed out|not breathing"),
    ("injury", "a", r"died|killed|broken (leg|arm|bone)|(leg|arm)s? (is |looks )?broken"),
    ("injury", "a", r"(call|need|send) (an |the )?ambulance"),
    (
        "injury",
        "a",
        r"(he|she|rider|man|woman|person|victim|kid|child|boy|girl) (is )?"
        r"(lying|not moving|not responding)",
    ),
    (
        "injury",
        "a",
        r"(hit|ran over|run over|knocked down) (a |an |the )?"
        r"(pedestrian|child|kid|man|woman|person|cyclist|boy|girl|student|lady)",
    ),
    # fire
    ("fire", "v", r"bốc cháy|cháy (dữ dội|lớn|ngùn ngụt|rụi|trơ)"),
    ("fire", "v", r"lửa|phát nổ|nổ tung|nổ lớn|khói (đen|bốc|mù|nghi ngút)"),
    ("fire", "a", r"boc chay|chay ngun ngut|chay du doi|ngon lua|boc khoi|phat no|no tung"),
    ("fire", "a", r"goi 114|on fire|caught fire|catch(es)? fire|burning|flames?|explo(ded|sion)"),
    # trapped
    ("trapped", "a", r"mac ket|ket (trong|ben trong|duoi|lai trong) (xe|cabin|gam|o to)"),
    ("trapped", "a", r"khong (the )?ra (duoc|ngoai)|keu cuu"),
    ("trapped", "a", r"trapped|pinned|stuck inside|can ?not get out|can t get out|cant get out"),
    # violence
    ("violence", "a", r"danh nhau|hanh hung|cuop|danh nguoi|chem|goi (cong an|113)"),
    ("violence", "a", r"(cam|rut|vung|mang|cau) (theo )?(dao|sung|gay|ma tau|hung khi|kiem)"),
    ("violence", "a", r"fight\w*|assault\w*|robb\w*|knife|machetes?|\bgun\b|stabb\w*|beating"),
)

NEGATIONS: Final[tuple[str, ...]] = (
    r"(khong|chua|chang) (thay )?(co )?(ai|nguoi nao|nguoi|ai do) (bi )?"
    r"(thuong|sao|gi|chet|nguy hiem|ket)\w*",
    r"khong (bi )?thuong vong|khong ai sao|khong sao|khong bi (thuong|gi)",
    r"(nguoi|tai xe|moi nguoi|hai ben|ca hai) (van |deu )?(on|khong sao)",
    r"khong (co )?(boc )?chay",
    r"suyt (nua )?(dam|tong|can|huc|va cham)( vao| trung| phai)? \w+",
    r"(no ?one|nobody|no people|none) (was |is |got |were |seems )?(hurt|injured|harmed)",
    r"no injur\w*|not (hurt|injured)",
    r"(everyone|everybody|driver|they|both drivers) (is |are |seems |seem )?(ok|fine)",
    r"no fire|almost (hit|ran over|killed) \w+",
)
"""Phrases removed (ascii view) before the rules run: "không ai bị thương", "nobody hurt"."""
