"""The page's words: one catalogue per language, the same keys in both, every code covered.

Fails when a key is missing in either language, when a script or page asks for a key that no
catalogue has, or when a script carries words of its own (non-ASCII text) instead of a key.
"""

from __future__ import annotations

import json
import re

import pytest

from cloud.api.routers.false_alarms import FalseAlarmReason
from cloud.db import AlertState, Role
from cloud.reports.classify import Category, Urgency
from cloud.web.pages import WEB_DIR
from edge.pipeline.supervision import OVERLOAD, SUPERVISOR_RULE, CameraState
from edge.rules.camera_health import CONDITIONS
from edge.rules.congestion import Level
from edge.rules.registry import BUILT_IN_RULES
from edge.rules.signals import SignalState
from traffic_monitor.contract import EventPhase, EventType, Severity

LANGS = ("vi", "en")
SCRIPTS = ("app.js", "i18n.js", "charts.js", "map.js", "open-data.js", "docs.js")
PAGES = ("index.html", "open-data.html")
ROAD_USERS = ("person", "bicycle", "car", "motorcycle", "bus", "truck")


def _catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((WEB_DIR / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_both_languages_have_the_same_keys_and_placeholders():
    vi, en = _catalogue("vi"), _catalogue("en")
    assert sorted(set(vi) ^ set(en)) == []
    for key in vi:
        assert vi[key].strip() and en[key].strip(), key
        assert _placeholders(vi[key]) == _placeholders(en[key]), key


@pytest.mark.parametrize("lang", LANGS)
def test_every_code_the_page_shows_has_words(lang: str):
    words = _catalogue(lang)
    wanted = [f"event_type.{t}" for t in EventType]
    wanted += [f"severity.{s}" for s in Severity] + [f"phase.{p}" for p in EventPhase]
    wanted += [f"alert_state.{s}" for s in AlertState] + [f"ui.role.{r}" for r in Role]
    wanted += [f"rule.{rule.name}" for rule in BUILT_IN_RULES]  # not tests' own rules
    wanted += [f"condition.{c}" for c in CONDITIONS] + [f"level.{lv}" for lv in Level]
    wanted += [f"false_alarm.{r}" for r in FalseAlarmReason] + [f"signal.{s}" for s in SignalState]
    wanted += [f"category.{c}" for c in Category] + [f"urgency.{u}" for u in Urgency]
    wanted += [f"report_status.{s}" for s in ("open", "confirmed", "closed")]
    wanted += [f"node_state.{s}" for s in ("online", "offline", "degraded", "unknown")]
    wanted += [f"class.{c}" for c in ROAD_USERS] + ["direction.in", "direction.out"]
    wanted += ["unit.kmh", "unit.vehicles_per_hour", "unit.m", "unit.s"]
    # camera_status cards: the state, the failing part (``CameraUnit.fault`` stages)
    wanted += [f"camera_status.{s}" for s in CameraState] + [f"rule.{SUPERVISOR_RULE}"]
    stages = ("capture", "detector", "analytics", "evidence", "sink", OVERLOAD)
    wanted += [f"stage.{s}" for s in stages]
    assert [k for k in wanted if k not in words] == []


def test_every_key_the_scripts_and_pages_ask_for_exists():
    keys = set(_catalogue("vi"))
    asked: set[str] = set()
    for name in SCRIPTS:
        text = (WEB_DIR / name).read_text("utf-8")
        # whole keys only; a prefix ("event_type." + code) is checked by the codes above
        asked |= {k for k in re.findall(r"""\bt\(\s*["']([\w.]+)["']""", text) if k[-1] != "."}
    for name in PAGES:
        text = (WEB_DIR / name).read_text("utf-8")
        asked |= set(re.findall(r'data-i18n="([\w.]+)"', text))
        asked |= set(re.findall(r'data-i18n-attr="\w[\w-]*:([\w.]+)"', text))
    assert len(asked) > 60
    assert sorted(asked - keys) == []


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_hold_no_words_of_their_own(name: str):
    """A Vietnamese letter (any non-ASCII letter) in a script skipped the catalogue."""
    text = (WEB_DIR / name).read_text("utf-8")
    code = "\n".join(line.split("//")[0] for line in text.splitlines())  # comments may
    assert [c for c in code if ord(c) > 127 and c.isalpha()] == []  # "·", "–" are signs
