// Message catalogues (static/i18n/<lang>.json) and the formats of numbers, units and dates.
// No user-facing string lives in the scripts: every word comes from a catalogue key.
"use strict";
const I18N = {
  lang: localStorage.getItem("lang") || "vi",
  tz: "Asia/Ho_Chi_Minh",  // replaced by the server's `timezone` setting once known
  messages: {},
  async load(lang) {
    if (!this.messages[lang]) {
      const res = await fetch("/static/i18n/" + lang + ".json");
      this.messages[lang] = await res.json();
    }
    this.lang = lang;
    localStorage.setItem("lang", lang);
    document.documentElement.lang = lang;
  },
  has(key) { return key in (this.messages[this.lang] || {}); },
  locale() { return this.lang === "vi" ? "vi-VN" : "en-GB"; },
};

function t(key, params) {
  // A missing key shows itself (and a catalogue test fails); {name} placeholders are filled.
  const text = (I18N.messages[I18N.lang] || {})[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (params && name in params ? String(params[name]) : m));
}

function num(value, digits) {
  const d = digits === undefined ? 0 : digits;
  return Number(value).toLocaleString(I18N.locale(), {minimumFractionDigits: 0, maximumFractionDigits: d});
}

const unit = {
  kmh: (v) => t("unit.kmh", {v: num(v, 0)}),
  m: (v) => t("unit.m", {v: num(v, 0)}),
  vehicles: (v) => t("unit.vehicles", {v: num(v)}),
  perHour: (v) => t("unit.vehicles_per_hour", {v: num(v)}),
  pct: (v) => t("unit.percent", {v: num(v * 100, 0)}),
  duration(seconds) {
    const s = Math.round(seconds);
    if (s < 60) return t("unit.s", {v: num(s)});
    if (s < 3600) return t("unit.min_s", {m: Math.floor(s / 60), s: s % 60});
    return t("unit.h_min", {h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60)});
  },
};

function dateTime(iso) {
  return new Date(iso).toLocaleString(I18N.locale(), {timeZone: I18N.tz, hour: "2-digit",
    minute: "2-digit", second: "2-digit", day: "2-digit", month: "2-digit", year: "numeric"});
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString(I18N.locale(), {timeZone: I18N.tz, hour: "2-digit", minute: "2-digit"});
}

function day(iso) {
  return new Date(iso).toLocaleDateString(I18N.locale(), {timeZone: I18N.tz, day: "2-digit", month: "2-digit"});
}

function translateStatic(root) {
  // Elements carry data-i18n="key" (text) or data-i18n-attr="attr:key" (an attribute).
  (root || document).querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
  (root || document).querySelectorAll("[data-i18n-attr]").forEach((n) => {
    const [attr, key] = n.dataset.i18nAttr.split(":");
    n.setAttribute(attr, t(key));
  });
}

function el(tag, attrs, text) {
  // Every event- or user-provided string goes in as text, never as HTML.
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = String(text);
  return node;
}
