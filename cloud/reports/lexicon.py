"""The keyword lexicon of the report classifier (data, not logic).

Each rule is a regular expression over one view of the normalised text (see
:mod:`cloud.reports.normalize`): ``"a"`` = without diacritics (works for text typed with or
without marks), ``"v"`` = with diacritics (only for words whose marks decide the meaning, e.g.
"cháy" fire vs "chạy" run, "máu" blood vs "màu" colour). Patterns are matched on word
boundaries. Weights: 4 = decisive phrase, 2 = strong cue, 1 = weak cue.

Written from domain knowledge before the test set under ``tests/reports/data/`` was written;
see ``docs/reports.md`` for how the two were kept apart.
"""

from __future__ import annotations

from typing import Final, Literal

View = Literal["a", "v"]
Rule = tuple[str, View, str, float]
"""(label, view, regex, weight)."""

CATEGORY_RULES: Final[tuple[Rule, ...]] = (
    # --- accident -------------------------------------------------------------------------
    ("accident", "a", r"tai nan", 4),
    ("accident", "a", r"va cham|va quet|quet phai|quet trung", 4),
    ("accident", "a", r"(dam|tong|huc) (vao|nhau|trung|phai|sau|thang|ngang|xe|nguoi|do)", 4),
    ("accident", "v", r"đâm|tông|húc|cán qua|bị cán|cán (người|chết)", 3),
    ("accident", "a", r"(lat|lon) (xe|nhao)|xe (bi )?lat|bi lat|lat nghieng", 4),
    ("accident", "a", r"(nga|te) xe|(bi|bi) (nga|te)|te nga|xe (bi )?nga|nga ra duong", 3),
    ("accident", "a", r"(xe|nguoi) (bi )?(dam|tong)|lien hoan|don toa", 3),
    ("accident", "a", r"accident|crash\w*|collision|collided|wreck\w*|pile ?up", 4),
    ("accident", "a", r"\bhit (by|a|an|the|my|our|his|her)\b|got hit|was hit|been hit", 3),
    ("accident", "a", r"knocked (down|over)|ran over|run over|rear ended|overturned|flipped", 4),
    ("accident", "a", r"fell off|fallen off|came off (his|her|their) (bike|motorbike)", 3),
    # --- congestion ------------------------------------------------------------------------
    ("congestion", "a", r"ket xe|ket cung|ket nang|ket dung|ket qua|bi ket|dang ket", 3),
    ("congestion", "a", r"un tac|tac (duong|nghen|xe|cung|nang|dai|ghe)|tac\b|un u|un lai", 3),
    ("congestion", "a", r"dung yen|nhich|(khong|chang) (di|nhuc nhich|nhuc) (duoc|noi)", 2),
    ("congestion", "a", r"dong (nghet|nghit|kin|cung)|xe dong|ket\b|\bxep hang", 2),
    ("congestion", "a", r"traffic jam|\bjam(med)?\b|congest\w*|gridlock\w*|standstill", 4),
    ("congestion", "a", r"bumper to bumper|backed up|tailback|stuck in traffic|crawling", 3),
    ("congestion", "a", r"heavy traffic|not moving at all|barely moving|queue\w*", 2),
    # --- signal fault ----------------------------------------------------------------------
    (
        "signal_fault",
        "a",
        r"den (giao thong|tin hieu|do|xanh|vang|xanh do|nga tu|nga ba|nga nam|dieu khien)",
        2,
    ),
    ("signal_fault", "a", r"cot den|tru den|tin hieu den|den xanh den do|den gt", 2),
    (
        "signal_cue",
        "a",
        r"\b(hu|hong|tat|tat ngom|chap chon|nhap nhay|mat dien|loi|chet|treo|liet|sai)\b",
        1.5,
    ),
    (
        "signal_cue",
        "a",
        r"khong (sang|hoat dong|len|chay|doi|chuyen|nhay|hien)|chi (sang|nhay) (vang|do|xanh)",
        1.5,
    ),
    ("signal_fault", "a", r"(xanh|do) ca (hai|2|4|bon) (huong|phia|ben)", 3),
    ("signal_fault", "a", r"traffic (light|lights|signal|signals)|signal\w*|stop ?light", 2),
    (
        "signal_fault",
        "a",
        r"(light|lights|signal)s? (is |are )?(out|broken|dead|off|stuck|flashing|not working)",
        3,
    ),
    ("signal_cue", "a", r"not working|malfunction\w*|\bbroken\b|stuck on (red|green)", 1.5),
    # --- illegal parking / stopping -------------------------------------------------------
    ("illegal_parking", "v", r"đậu|đỗ", 2),
    ("illegal_parking", "a", r"(dau|do|dung) (xe )?(tran lan|trai phep|sai|giua|tren|lan)", 3),
    (
        "illegal_parking",
        "a",
        r"(dau|do) xe|xe (dau|do) (tren|o|giua|chan|chiem|ngay)|(dau|do) (qua dem|suot|"
        r"ca ngay)",
        2,
    ),
    ("illegal_parking", "a", r"chiem (dung |het )?(via he|long duong|le duong|lan|loi)", 4),
    ("illegal_parking", "a", r"lan chiem|(chan|bit) (loi|cong|het loi|ngo|hem|duong vao)", 3),
    ("illegal_parking", "a", r"via he|le duong|buon ban|bay hang|trai phep|dung do", 1.5),
    ("illegal_parking", "a", r"\bparked|parking|double park\w*|illegally (stopped|parked)", 4),
    (
        "illegal_parking",
        "a",
        r"blocking (the |my |our |a )?(driveway|sidewalk|pavement|entrance|gate|bus)",
        3,
    ),
    ("illegal_parking", "a", r"on the (sidewalk|pavement)|bus lane|no parking|left (his|her)", 1),
    # --- dangerous or wrong-way driving ---------------------------------------------------
    ("dangerous_driving", "a", r"nguoc chieu|(di|chay|lai) nguoc|vao duong nguoc", 5),
    ("dangerous_driving", "a", r"vuot (den|den do|au|ep)|chay (qua )?den do", 4),
    ("dangerous_driving", "a", r"lang lach|dua xe|boc dau|dua nhau|nep xe|ep xe|tat dau", 4),
    ("dangerous_driving", "a", r"(chay|phong|lai) (qua |rat |cuc |sieu )?(nhanh|au)", 3),
    ("dangerous_driving", "a", r"toc do|phong nhanh|vuot au|say (xin|ruou)|nhau say", 3),
    ("dangerous_driving", "a", r"(leo|chay) (len )?(le|via he)|lan lan|chuyen lan|khong doi mu", 2),
    ("dangerous_driving", "a", r"nguy hiem|\bau\b|hung hang|ham doa|coi inh|nan ni", 1),
    ("dangerous_driving", "a", r"wrong (way|side|direction)|against (the )?traffic", 5),
    ("dangerous_driving", "a", r"speed\w*|racing|street race|reckless\w*|drunk\w*|swerv\w*", 4),
    ("dangerous_driving", "a", r"\bran (a |the )?red|running (a |the )?red|run (a |the )?red", 5),
    ("dangerous_driving", "a", r"weaving|tailgat\w*|dangerous\w*|no helmet|road rage", 3),
    ("dangerous_driving", "a", r"riding on the (sidewalk|pavement)|overtak\w*|zigzag\w*", 3),
    # --- road damage or obstacle ----------------------------------------------------------
    (
        "road_hazard",
        "a",
        r"o ga|o voi|ho (sau|lon|to)|sut lun|\blun\b|sup|vet nut|bi nut|nut (toac|lon|doc)",
        3,
    ),
    (
        "road_hazard",
        "a",
        r"mat duong (hu|hong|nut|lom|bong|vo)|hu hong|nap cong|ho ga|mieng cong|"
        r"cong (bi )?(vo|sup|ho|mat)",
        3,
    ),
    ("road_hazard", "a", r"mat nap|cay (do|nga|gay|bat goc)|canh cay|vat can|chuong ngai", 4),
    ("road_hazard", "a", r"da (roi|lon|hoc)|cat (roi|tran)|soi|dau (nhot|tran|loang|do ra)", 3),
    (
        "road_hazard",
        "a",
        r"ngap|nuoc (ngap|dong|len)|ong nuoc|day (dien|cap) (dut|roi|vuong|sa)",
        3,
    ),
    ("road_hazard", "a", r"rao chan|(roi|vuong|nam) (giua|tren) (duong|lan)|tron truot", 2),
    ("road_hazard", "v", r"đổ (ngang|ra|giữa|chắn)|ổ gà|ổ voi|hố|sụt|lún|trơn", 3),
    ("road_hazard", "a", r"pot ?holes?|sink ?hole|manhole|\bholes?\b|debris|obstacle\w*", 4),
    ("road_hazard", "a", r"fallen tree|tree (fell|down|fallen|branch)|branch\w*|flood\w*", 4),
    ("road_hazard", "a", r"oil (spill|slick|on)|spill\w*|gravel|sand|cracks?|cracked|collaps", 3),
    ("road_hazard", "a", r"cables?|wires? (down|hanging)|cover (is )?missing|slippery|rocks?", 2),
    ("road_hazard", "a", r"road (damage|surface)|broken glass|dumped|in the middle of the road", 2),
    # --- other (weak: only wins when nothing else matches) --------------------------------
    ("other", "a", r"den duong|bien bao|rac|tieng on|street ?light|sign|noise|garbage", 1.5),
)

EMERGENCY_RULES: Final[tuple[Rule, ...]] = (
    # injury
    ("injury", "a", r"bi thuong|trong thuong|thuong (nang|tich|vong)|nguy kich|bi dau nang", 1),
    ("injury", "a", r"chay mau|mau (me|chay|tuoi|loang)|be bet|dam mau|do mau", 1),
    ("injury", "v", r"máu|bất tỉnh|bất động|nằm (bất|im|sõng)|bị cán", 1),
    ("injury", "a", r"bat tinh|ngat xiu|bi ngat|hon me|co giat|khong (tho|cu dong|tinh)", 1),
    (
        "injury",
        "a",
        r"nam (bat dong|im|song soai)|(nguoi|ai|chu|ba|ong|em|co|anh|chi|"
        r"nan nhan) nam (giua|tren|duoi)",
        1,
    ),
    ("injury", "a", r"tu vong|chet (nguoi|tai cho)|nguoi chet|thiet mang|nan nhan", 1),
    ("injury", "a", r"gay (chan|tay|xuong|co)|cap cuu|cuu thuong|xe cuu thuong|\b115\b", 1),
    (
        "injury",
        "a",
        r"(dam|tong|can|huc) (vao |trung |phai )?(nguoi|em be|be|cu|hoc sinh|tre em|chau|ba|ong)",
        1,
    ),
    ("injury", "a", r"injur\w*|\bhurt\b|bleed\w*|blood\w*|unconscious|passed out|ambulance", 1),
    (
        "injury",
        "a",
        r"not breathing|\bdead\b|\bdied\b|killed|broken (leg|arm|bone)\w*|(leg|arm|"
        r"bone)s? (is |are |was )?broken",
        1,
    ),
    (
        "injury",
        "a",
        r"(someone|person|man|woman|guy|rider|driver|victim|people|he|she|kid|child|biker|"
        r"cyclist) (is |are |was |were )?(lying|not moving|not responding)",
        1,
    ),
    (
        "injury",
        "a",
        r"(hit|ran over|run over|knocked down) (a |an |the )?"
        r"(pedestrian|child|kid|man|woman|person|cyclist|boy|girl|old|student|lady|guy)",
        1,
    ),
    # fire
    ("fire", "v", r"cháy|lửa|khói|phát nổ|nổ (tung|lớn|to|bình)", 1),
    (
        "fire",
        "a",
        r"boc chay|chay (ngun|ruc|lon|du doi)|bi chay|ngon lua|boc khoi|khoi (den|bay)",
        1,
    ),
    ("fire", "a", r"phat no|no tung|chay no|\b114\b", 1),
    ("fire", "a", r"\bfire\b|on fire|burning|burnt|flames?|smoke|smoking car|explo\w*", 1),
    # trapped
    (
        "trapped",
        "a",
        r"mac ket|ket (trong|ben trong|duoi|lai trong)|khong (the )?ra (duoc|ngoai)",
        1,
    ),
    ("trapped", "a", r"trapped|pinned|stuck (inside|under)|can ?not get out|cant get out", 1),
    # violence
    ("violence", "a", r"danh nhau|hanh hung|cuop|(cam|rut|vung|mang) (dao|sung)|chem|\b113\b", 1),
    ("violence", "a", r"fight\w*|assault\w*|robb\w*|knife|\bgun\b|attack\w*|stabb\w*", 1),
)

NEGATIONS: Final[tuple[str, ...]] = (
    r"khong (co )?(ai|nguoi nao|nguoi|ai do) (bi )?(thuong|sao|chet|nguy hiem|ket)\w*",
    r"khong (co )?(ai|nguoi nao) bi (thuong|sao)|khong (bi )?thuong vong|khong ai sao",
    r"may (la |ma )?khong (co )?ai (bi )?(thuong|sao)|(nguoi|tai xe) (van )?(on|khong sao)",
    r"khong (bi )?(thuong|sao)|khong chay|khong co chay",
    r"(no ?one|nobody|no people|none) (was |is |got |were |seems )?(hurt|injured|harmed)",
    r"no injur\w*|not (hurt|injured)|(everyone|everybody|driver|they) (is |are |seems )?(ok|fine)",
    r"no fire",
)
"""Phrases removed (ascii view) before emergency detection: "không ai bị thương"."""
