// Regulars admin page: a plain ES module on Shopify's Polaris web components and App Bridge (no build step).
// One real path per part of the program, routed here with the History API; every /api call carries a fresh
// session token from App Bridge.
import { automations as automationsPage } from "./automations.js";
import * as W from "./words.js";

const main = document.getElementById("main");
const BASE = document.body.dataset.base || "";
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
let shopInfo = null;

// --- numbers, money, dates, plurals: by the browser's locale, money in the shop's currency -----------------
const LOCALE = navigator.language || "en-US";
const nf = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2 });
const plural = new Intl.PluralRules(LOCALE);
const dateFmt = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium" });
const timeFmt = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "short" });
const isNum = (v) => v !== null && v !== undefined && v !== "" && Number.isFinite(Number(v));
export const num = (v) => (isNum(v) ? nf.format(Number(v)) : "—");
export function money(v) {
  if (!isNum(v)) return "—";
  const code = shopInfo?.currency || "USD";
  const text = new Intl.NumberFormat(LOCALE, { style: "currency", currency: code }).format(Number(v));
  // "$12.50 USD" as Shopify's "money with currency" format: a bare "$" is ambiguous for CAD, AUD, …
  return text.includes(code) ? text : `${text} ${code}`;
}
const pct = (v) => (isNum(v) ? new Intl.NumberFormat(LOCALE, { style: "percent", maximumFractionDigits: 2 }).format(Number(v) / 100) : "—");
// A bare date ("2026-01-01") is a day in the merchant's calendar, not midnight UTC.
const asDate = (v) => (/^\d{4}-\d{2}-\d{2}$/.test(v) ? new Date(`${v}T00:00:00`) : new Date(v));
const day = (v) => (v ? dateFmt.format(asDate(v)) : "—");
const when = (v) => (v ? timeFmt.format(new Date(v)) : "—");
const points = (n) => `${num(n)} ${plural.select(Number(n)) === "one" ? "point" : "points"}`;
// "1 member moves up", "2 members move up": the form follows the count's CLDR plural category.
export const count = (n, forms) => (forms[plural.select(Number(n))] || forms.other).replace("{n}", num(n));
const badge = ([label, tone]) => `<s-badge tone="${tone}">${esc(label)}</s-badge>`;

// --- API --------------------------------------------------------------------------------------------------
async function api(path, opts = {}) {
  // A new token per request: Shopify's session tokens live one minute.
  const token = await window.shopify.idToken();
  const res = await fetch(path, {
    ...opts,
    headers: { Authorization: `Bearer ${token}`, ...(opts.body ? { "Content-Type": "application/json" } : {}) },
  });
  const body = res.headers.get("Content-Type")?.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw Object.assign(new Error(body?.error?.message || res.statusText), { status: res.status, code: body?.error?.code, fields: body?.error?.fields || {} });
  return body;
}
const send = (path, method, data) => api(path, { method, body: JSON.stringify(data ?? {}) });
const toast = (msg, opts) => window.shopify.toast.show(msg, opts);

// --- App Bridge modal instead of confirm() ---------------------------------------------------------------
function ask({ title, text, yes = "Confirm", critical = false }) {
  const modal = document.getElementById("confirm-modal");
  const yesBtn = document.getElementById("confirm-yes");
  document.getElementById("confirm-title").setAttribute("title", title);
  document.getElementById("confirm-text").textContent = text;
  yesBtn.textContent = yes;
  if (critical) yesBtn.setAttribute("tone", "critical"); else yesBtn.removeAttribute("tone");
  return new Promise((resolve) => {
    let done = false;
    const finish = (answer) => {
      if (done) return;
      done = true;
      yesBtn.onclick = null;
      document.getElementById("confirm-no").onclick = null;
      modal.removeEventListener("hide", onHide);
      window.shopify.modal.hide("confirm-modal");
      resolve(answer);
    };
    const onHide = () => finish(false);
    yesBtn.onclick = () => finish(true);
    document.getElementById("confirm-no").onclick = () => finish(false);
    modal.addEventListener("hide", onHide);
    window.shopify.modal.show("confirm-modal");
  });
}

// --- the contextual save bar: shown while a form has unsaved changes ------------------------------------
let dirty = null;
function saveBar(form, save) {
  const show = () => {
    if (dirty === form) return;
    dirty = form;
    window.shopify.saveBar.show("save-bar");
  };
  form.addEventListener("input", show);
  form.addEventListener("change", show);
  form.addEventListener("submit", (e) => { e.preventDefault(); runSave(); });
  async function runSave() {
    try {
      await save(form);
      dirty = null;
      await window.shopify.saveBar.hide("save-bar");
      toast("Saved");
      await route();
    } catch (err) { showErrors(form, err); }
  }
  document.getElementById("save-bar-save").onclick = () => { if (dirty === form) runSave(); };
  document.getElementById("save-bar-discard").onclick = async () => { dirty = null; await window.shopify.saveBar.hide("save-bar"); await route(); };
}

// --- forms: values from Polaris fields, errors under the field they are about -----------------------------
function formData(form) {
  const out = {};
  for (const el of form.querySelectorAll("[name]")) {
    if (!el.tagName.startsWith("S-") && !(el instanceof HTMLInputElement && el.type === "hidden")) continue;
    if (el.closest("[data-off]")) continue; // a field hidden because it does not apply is not sent
    const name = el.getAttribute("name");
    if (el.tagName === "S-CHECKBOX") out[name] = !!el.checked;
    else if (el.dataset.type === "int") out[name] = el.value === "" ? null : Number(el.value);
    else if (el.dataset.type === "list") out[name] = String(el.value).split(",").map((s) => Number(s.trim())).filter((n) => n);
    else out[name] = el.value;
  }
  return out;
}
const capital = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);
function showErrors(form, err) {
  form.querySelectorAll("[error]").forEach((el) => el.removeAttribute("error"));
  form.querySelectorAll("p.error").forEach((el) => el.remove());
  form.querySelector(":scope > .form-errors")?.remove();
  const orphans = [];
  for (const [key, msg] of Object.entries(err.fields || {})) {
    const field = form.querySelector(`[name="${CSS.escape(key)}"]`) || form.querySelector(`[name$=".${CSS.escape(key)}"]`)
      || form.querySelector(`[name="${CSS.escape(key.replace(/^[a-z_]+\./, ""))}"]`);
    if (field && !field.closest("[data-off]") && field.tagName.startsWith("S-")) field.setAttribute("error", capital(String(msg)));
    else if (field && !field.closest("[data-off]")) {
      // A plain input (the automations editor): the message goes right under it, tied to it.
      const p = Object.assign(document.createElement("p"), { className: "error", id: `err-${key}`, textContent: capital(String(msg)) });
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", p.id);
      field.after(p);
    } else orphans.push(capital(String(msg)));
  }
  const some = Object.keys(err.fields || {}).length;
  const banner = document.createElement("s-banner");
  banner.className = "form-errors";
  banner.setAttribute("tone", "critical");
  banner.setAttribute("heading", some ? "Please check the highlighted fields" : capital(err.message));
  if (orphans.length) banner.textContent = orphans.join(" ");
  form.prepend(banner);
  form.querySelector("[error]")?.focus();
}
const field = (tag, attrs, inner = "") => `<${tag} ${Object.entries(attrs).filter(([, v]) => v !== false && v !== null && v !== undefined)
  .map(([k, v]) => (v === true ? k : `${k}="${esc(v)}"`)).join(" ")}>${inner}</${tag}>`;
const options = (pairs, current) => Object.entries(pairs).map(([v, l]) => `<s-option value="${esc(v)}"${String(v) === String(current) ? " selected" : ""}>${esc(Array.isArray(l) ? l[0] : l)}</s-option>`).join("");
const select = (attrs, pairs, current) => field("s-select", { ...attrs, value: current }, options(pairs, current));

// --- router -----------------------------------------------------------------------------------------------
const LEGACY = { dashboard: "", members: "customers", member: "customers", program: "settings", keys: "api-keys" };
function currentPath() {
  // Old bookmarks (#/member/501, #/dashboard?from=…) land on the same page's path.
  if (location.hash.startsWith("#/")) {
    const [h, q] = location.hash.slice(2).split("?");
    const [name, ...rest] = h.split("/");
    const path = [name in LEGACY ? LEGACY[name] : name, ...rest].filter(Boolean).join("/");
    const params = new URLSearchParams(location.search);
    new URLSearchParams(q || "").forEach((v, k) => params.set(k, v));
    history.replaceState({}, "", `${BASE}/${path}${params.size ? `?${params}` : ""}`);
  }
  return location.pathname.slice(BASE.length).replace(/^\/+|\/+$/g, "");
}
const params = () => new URLSearchParams(location.search);
// A page's own state (search, filters, page); the rest of the query is Shopify's (shop, host, id_token…).
const PAGE_STATE = ["q", "tier", "segment", "sort", "page", "status", "action", "before"];
function go(path, query) {
  const p = params();
  // Another part of the program starts unfiltered; the date range stays (Home and Analytics share it).
  if (path.split("/")[0] !== currentPath().split("/")[0]) PAGE_STATE.forEach((k) => p.delete(k));
  if (query) for (const [k, v] of Object.entries(query)) { if (v === null || v === undefined || v === "") p.delete(k); else p.set(k, v); }
  history.pushState({}, "", `${BASE}/${path}${p.size ? `?${p}` : ""}`);
  route();
}
const link = (path) => `${BASE}/${path}`;
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  const el = e.composedPath().find((n) => n instanceof Element && n.getAttribute?.("href"));
  const href = el?.getAttribute("href");
  if (!href || el.getAttribute("target") || el.hasAttribute("download")) return;
  const url = new URL(href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${BASE}/`) || url.pathname.startsWith("/api/")) return;
  e.preventDefault();
  go(url.pathname.slice(BASE.length + 1), Object.fromEntries(url.searchParams));
});
addEventListener("popstate", () => route());

const automations = (arg) => automationsPage(main, { api, send, esc, toast, showErrors, money, num, ask, link, go }, arg);
const routes = { "": home, customers, points: pointsPage, tiers, rewards, referrals, automations, analytics, settings, audit, "api-keys": keys, setup };
let rendering = 0;
async function route() {
  const path = currentPath();
  const [name, arg] = path.split("/");
  const mine = (rendering += 1);
  if (dirty) { dirty = null; window.shopify.saveBar.hide("save-bar"); }
  try {
    shopInfo = shopInfo || (await api("/api/admin/shop"));
    if (!shopInfo.setup_completed && name !== "setup") return go("setup");
    if (shopInfo.setup_completed && name === "setup") return go("");
    const page = name === "customers" && arg ? () => member(arg) : routes[name] || home;
    await page(arg);
  } catch (err) {
    if (mine !== rendering || err.stale) return;
    main.innerHTML = `<s-page heading="Something went wrong"><s-banner tone="critical" heading="This page could not be loaded">${esc(err.message)}</s-banner></s-page>`;
  }
  if (mine === rendering) main.focus({ preventScroll: true });
}
// A page drawn for a navigation the merchant has already left is dropped, not drawn over the newer one.
function renderer() {
  const mine = rendering;
  return (html) => {
    if (mine !== rendering) throw Object.assign(new Error("navigated away"), { stale: true });
    main.innerHTML = html;
  };
}
route();

// --- setup -----------------------------------------------------------------------------------------------
async function setup() {
  const render = renderer();
  const d = shopInfo.setup_defaults;
  const s = d.settings;
  const cur = shopInfo.currency;
  render(`<s-page heading="Set up your loyalty program">
  <s-section><form id="setup-form"><s-stack>
    <s-paragraph>Good defaults are filled in: change what you like, then start. Everything can be changed later in Settings.</s-paragraph>
    ${field("s-checkbox", { name: "enabled", label: "Turn the program on", checked: !!s.enabled, details: "Customers start earning as soon as you start." })}
    ${field("s-text-field", { name: "points_per_currency_unit", label: `Points per 1 ${cur} spent`, value: s.points_per_currency_unit, inputmode: "decimal" })}
    ${field("s-number-field", { name: "signup_points", "data-type": "int", label: "Sign-up bonus (points)", value: s.signup_points, min: 0 })}
    ${field("s-number-field", { name: "pending_days", "data-type": "int", label: "Days before order points can be spent", value: s.pending_days, min: 0, details: "Covers your return window, so points for a returned order are never spent." })}
    ${field("s-money-field", { name: "referral_friend_discount", label: `Referral: the friend's discount (${cur})`, value: s.referral_friend_discount })}
    ${field("s-number-field", { name: "referral_advocate_points", "data-type": "int", label: "Referral: points for the customer who referred", value: s.referral_advocate_points, min: 0 })}
    <s-heading>Tiers</s-heading><s-unordered-list>${d.tiers.map((t) => `<s-list-item>${esc(t.name)} from ${num(t.threshold)} points, earning ×${num(t.multiplier)}</s-list-item>`).join("")}</s-unordered-list>
    <s-heading>Rewards</s-heading><s-unordered-list>${d.rewards.map((r) => `<s-list-item>${esc(r.name)} for ${points(r.points_cost)}</s-list-item>`).join("")}</s-unordered-list>
    <s-stack direction="inline"><s-button variant="primary" type="submit">Start the program</s-button></s-stack>
  </s-stack></form></s-section></s-page>`);
  const form = document.getElementById("setup-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await send("/api/admin/setup", "POST", formData(form));
      shopInfo.setup_completed = true;
      toast("Your program is live");
      go("tiers");
    } catch (err) { showErrors(form, err); }
  });
}

// --- home: the key figures ------------------------------------------------------------------------------
function bars(items, label) {
  // Inline SVG bars with the figures as text: no chart library for a handful of bars.
  const max = Math.max(1, ...items.map((i) => Number(i.value) || 0));
  const w = 360, rowH = 26;
  return `<svg role="img" aria-label="${esc(label)}" viewBox="0 0 ${w} ${items.length * rowH}" width="100%" style="max-width:${w}px">
    ${items.map((i, n) => `<g transform="translate(0 ${n * rowH})"><text x="0" y="16">${esc(i.label)}</text>
      <rect x="120" y="4" height="16" rx="3" width="${Math.round((150 * (Number(i.value) || 0)) / max)}" fill="#303030"></rect>
      <text x="${126 + Math.round((150 * (Number(i.value) || 0)) / max)}" y="16">${num(i.value)}</text></g>`).join("")}</svg>`;
}
function metric(name, label, value, formulas) {
  return `<s-section><s-text color="subdued" id="m-${name}">${esc(label)}</s-text><div class="metric" data-metric="${name}" aria-labelledby="m-${name}">${value}</div>
    <details><summary>How it is calculated</summary><s-paragraph>${esc(formulas[name] || "")}</s-paragraph></details></s-section>`;
}
function range() {
  const p = params();
  const today = new Date().toISOString().slice(0, 10);
  return { from: p.get("from") || new Date(Date.now() - 89 * 864e5).toISOString().slice(0, 10), to: p.get("to") || today };
}
function windows() {
  // Churn and retention look back this many days before the period (90 by default: the seeds' lapse).
  const p = params();
  return { churn_days: p.get("churn_days") || "90", retention_days: p.get("retention_days") || "90" };
}
function rangeForm(id, withWindows = false) {
  const { from, to } = range();
  const w = windows();
  return `<form id="${id}"><s-stack direction="inline">${field("s-date-field", { name: "from", label: "From", value: from })}
    ${field("s-date-field", { name: "to", label: "To", value: to })}
    ${withWindows ? `${field("s-number-field", { name: "churn_days", label: "Churn window (days)", value: w.churn_days, min: 7, max: 730, details: "A customer is lost after this long without an order." })}
    ${field("s-number-field", { name: "retention_days", label: "Retention window (days)", value: w.retention_days, min: 7, max: 730, details: "A customer counts as active with an order in this many days." })}` : ""}
    <s-button type="submit">Show</s-button></s-stack></form>`;
}
function bindRange(id, path) {
  document.getElementById(id).addEventListener("submit", (e) => { e.preventDefault(); go(path, formData(e.target)); });
}
// A small SVG line chart with the table behind it: no chart library, legible, and readable without the picture.
function lineChart(title, points, series, fmt) {
  const w = 520, h = 160, pad = 24;
  const values = points.flatMap((pt) => series.map(([key]) => pt[key])).filter(isNum).map(Number);
  const max = Math.max(1, ...values), min = Math.min(0, ...values);
  const x = (i) => pad + (points.length < 2 ? 0 : (i * (w - 2 * pad)) / (points.length - 1));
  const y = (v) => h - pad - ((Number(v) - min) * (h - 2 * pad)) / (max - min || 1);
  const label = (pt) => (params().get("period") === "week" ? day(pt.start) : new Intl.DateTimeFormat(LOCALE, { month: "short", year: "numeric" }).format(asDate(pt.start)));
  const lines = series.map(([key, name, colour, dash]) => {
    const segs = []; let cur = [];
    points.forEach((pt, i) => { if (isNum(pt[key])) cur.push(`${x(i).toFixed(1)},${y(pt[key]).toFixed(1)}`); else if (cur.length) { segs.push(cur); cur = []; } });
    if (cur.length) segs.push(cur);
    return segs.map((sg) => `<polyline fill="none" stroke="${colour}" stroke-width="2" ${dash ? 'stroke-dasharray="4 3"' : ""} points="${sg.join(" ")}"></polyline>`).join("")
      + points.map((pt, i) => (isNum(pt[key]) ? `<circle cx="${x(i).toFixed(1)}" cy="${y(pt[key]).toFixed(1)}" r="2.5" fill="${colour}"><title>${esc(name)}, ${esc(label(pt))}: ${esc(fmt(pt[key]))}</title></circle>` : "")).join("");
  }).join("");
  const last = points[points.length - 1] || {};
  const summary = `${title}: ${series.map(([key, name]) => `${name} ${fmt(last[key])} in the latest period`).join(", ")}`;
  return `<s-section heading="${esc(title)}" class="trend"><svg role="img" aria-label="${esc(summary)}" viewBox="0 0 ${w} ${h}" width="100%" style="max-width:36rem">
    <line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#c9c9c9"></line>
    <text x="${pad}" y="${h - 6}">${esc(points[0] ? label(points[0]) : "")}</text><text x="${w - pad}" y="${h - 6}" text-anchor="end">${esc(points.length ? label(last) : "")}</text>
    <text x="2" y="${pad - 8}">${esc(fmt(max))}</text>${lines}</svg>
    ${series.length > 1 ? `<s-paragraph color="subdued">${series.map(([, name, colour, dash]) => `<span class="key" style="border-color:${colour};border-style:${dash ? "dashed" : "solid"}"></span>${esc(name)}`).join(" ")}</s-paragraph>` : ""}
    <details><summary>Show as a table</summary><table class="trend-table"><thead><tr><th scope="col">Period</th>${series.map(([, name]) => `<th scope="col">${esc(name)}</th>`).join("")}</tr></thead>
    <tbody>${points.map((pt) => `<tr><th scope="row">${esc(label(pt))}</th>${series.map(([key]) => `<td>${esc(fmt(pt[key]))}</td>`).join("")}</tr>`).join("")}</tbody></table></details></s-section>`;
}
async function home() {
  const render = renderer();
  const { from, to } = range();
  const w = windows();
  const period = params().get("period") === "week" ? "week" : "month";
  const [s, t] = await Promise.all([
    api(`/api/admin/analytics/summary?${new URLSearchParams({ from, to, ...w })}`),
    api(`/api/admin/analytics/trends?period=${period}&periods=12`),
  ]);
  const f = s.formulas || {};
  const days = Math.round((asDate(to) - asDate(from)) / 864e5) + 1;
  const launch = t.since_launch;
  render(`<s-page heading="Retention dashboard" inlineSize="large">
  <s-button slot="primary-action" variant="primary" href="${link("analytics")}">See all analytics</s-button>
  <s-section>${rangeForm("range", true)}<s-paragraph color="subdued">Figures for the ${num(days)} days from ${day(from)} to ${day(to)}. Churn counts customers who ordered in the ${num(s.windows?.churn_days ?? w.churn_days)} days before the period and not in it; retention looks back ${num(s.windows?.retention_days ?? w.retention_days)} days.</s-paragraph></s-section>
  <s-grid>
    ${metric("repeat_customer_rate", "Repeat customer rate", pct(s.repeat_customer_rate), f)}
    ${metric("purchase_frequency", "Purchase frequency", num(s.purchase_frequency), f)}
    ${metric("average_order_value", "Average order value", money(s.average_order_value), f)}
    ${metric("customer_lifetime_value", "Customer lifetime value", money(s.customer_lifetime_value), f)}
    ${metric("churn_rate", "Churn rate", pct(s.churn_rate), f)}
    ${metric("retention_rate", "Retention rate", pct(s.retention_rate), f)}
    ${metric("median_days_to_second_order", "Median days to a second order", num(s.median_days_to_second_order), f)}
    ${metric("redemption_rate", "Redemption rate", pct(s.redemption_rate), f)}
    ${metric("points_liability", "Points liability", money(s.points_liability), f)}
    ${metric("referral_revenue", "Referral revenue", money(s.referral_revenue), f)}
  </s-grid>
  ${launch ? `<s-section heading="Since you launched"><s-paragraph color="subdued">Since ${day(t.launched_at)}, against as long a stretch just before.</s-paragraph>
    <s-table id="since-launch"><s-table-header-row><s-table-header></s-table-header><s-table-header format="numeric">Before</s-table-header><s-table-header format="numeric">Since launch</s-table-header></s-table-header-row><s-table-body>
    <s-table-row><s-table-cell>Repeat customer rate</s-table-cell><s-table-cell format="numeric">${pct(launch.before.repeat_rate)}</s-table-cell><s-table-cell format="numeric">${pct(launch.after.repeat_rate)}</s-table-cell></s-table-row>
    <s-table-row><s-table-cell>Members' share of revenue</s-table-cell><s-table-cell format="numeric">${pct(launch.before.member_revenue_share)}</s-table-cell><s-table-cell format="numeric">${pct(launch.after.member_revenue_share)}</s-table-cell></s-table-row>
    </s-table-body></s-table></s-section>` : ""}
  <s-section heading="Trends"><form id="trend-form">${select({ name: "period", label: "Show by" }, { month: "Month", week: "Week" }, period)}</form></s-section>
  <s-grid id="trends">
    ${lineChart("Repeat customer rate", t.points, [["repeat_rate", "Repeat rate", "#303030"]], pct)}
    ${lineChart("Members' share of revenue", t.points, [["member_revenue_share", "Members' share", "#303030"]], pct)}
    ${lineChart("Points issued and redeemed", t.points, [["points_issued", "Issued", "#303030"], ["points_redeemed", "Redeemed", "#2c6ecb", true]], num)}
    ${lineChart("Points liability", t.points, [["liability", "Liability", "#303030"]], money)}
  </s-grid>
  <s-section heading="Points in the period">${bars([{ label: "Issued", value: s.points_issued }, { label: "Redeemed", value: s.points_redeemed }, { label: "Expired", value: s.points_expired }], "Points issued, redeemed and expired")}
    <table class="sr-table"><caption>Points in the period</caption><tbody><tr><th scope="row">Issued</th><td>${num(s.points_issued)}</td></tr><tr><th scope="row">Redeemed</th><td>${num(s.points_redeemed)}</td></tr><tr><th scope="row">Expired</th><td>${num(s.points_expired)}</td></tr></tbody></table></s-section>
  </s-page>`);
  bindRange("range", "");
  document.getElementById("trend-form").addEventListener("change", (e) => go("", { period: e.target.closest("[name]").value }));
}

// --- analytics: who the members are, cohorts, exports -------------------------------------------------------
async function analytics() {
  const render = renderer();
  const { from, to } = range();
  const q = `from=${from}&to=${to}`;
  const [s, seg, coh] = await Promise.all([api(`/api/admin/analytics/summary?${q}`), api("/api/admin/analytics/segments"), api(`/api/admin/analytics/cohorts?${q}`)]);
  const f = s.formulas || {};
  const mv = s.members_vs_non_members;
  const months = Math.max(0, ...coh.cohorts.map((c) => c.retention.length));
  render(`<s-page heading="Analytics" inlineSize="large">
  <s-button slot="primary-action" variant="primary" id="exp-members">Export customers (CSV)</s-button>
  <s-button slot="secondary-actions" id="exp-ledger">Export points history (CSV)</s-button>
  <s-section>${rangeForm("range")}</s-section>
  <s-section heading="Members and other customers"><s-table>
    <s-table-header-row><s-table-header>Group</s-table-header><s-table-header format="numeric">Customers</s-table-header><s-table-header format="numeric">Orders</s-table-header><s-table-header format="numeric">Average order</s-table-header><s-table-header format="numeric">Orders per customer</s-table-header><s-table-header format="numeric">Share of revenue</s-table-header></s-table-header-row>
    <s-table-body>${[["Members", mv.members], ["Other customers", mv.non_members]].map(([n, g]) => `<s-table-row data-group="${n}"><s-table-cell>${n}</s-table-cell><s-table-cell format="numeric">${num(g.customers)}</s-table-cell><s-table-cell format="numeric">${num(g.orders)}</s-table-cell><s-table-cell format="numeric">${money(g.average_order_value)}</s-table-cell><s-table-cell format="numeric">${num(g.purchase_frequency)}</s-table-cell><s-table-cell format="numeric">${pct(g.revenue_share)}</s-table-cell></s-table-row>`).join("")}</s-table-body></s-table></s-section>
  <s-section heading="Days since the last order (today)">${bars(Object.entries(seg.recency).map(([k, v]) => ({ label: `${k} days`, value: v.customers })), "Customers by days since their last order")}
    <s-table><s-table-header-row><s-table-header>Days</s-table-header><s-table-header format="numeric">Customers</s-table-header><s-table-header format="numeric">Revenue</s-table-header></s-table-header-row>
    <s-table-body>${Object.entries(seg.recency).map(([k, v]) => `<s-table-row data-bucket="${esc(k)}"><s-table-cell>${esc(k)}</s-table-cell><s-table-cell format="numeric">${num(v.customers)}</s-table-cell><s-table-cell format="numeric">${money(v.revenue)}</s-table-cell></s-table-row>`).join("")}</s-table-body></s-table>
    <details><summary>How it is calculated</summary><s-paragraph>${esc(f.recency || "")}</s-paragraph></details></s-section>
  <s-section heading="Customer segments">${bars(Object.entries(seg.rfm).map(([k, v]) => ({ label: k, value: v.customers })), "Customers by segment")}
    <details><summary>How it is calculated</summary><s-paragraph>${esc(f.rfm || "")}</s-paragraph></details></s-section>
  <s-section heading="Monthly cohorts: share still buying"><s-paragraph color="subdued">${esc(coh.formula)}</s-paragraph><table class="heat"><thead><tr><th scope="col">First order in</th><th scope="col">Customers</th>${Array.from({ length: months }, (_, k) => `<th scope="col">${k === 0 ? "First month" : `+${k}`}</th>`).join("")}</tr></thead><tbody>
    ${coh.cohorts.map((c) => `<tr><th scope="row">${esc(c.cohort)}</th><td>${num(c.customers)}</td>${c.retention.map((v) => `<td style="background:rgba(48,48,48,${v ? Math.min(0.6, v / 160) : 0})">${pct(v)}</td>`).join("")}</tr>`).join("")}
  </tbody></table></s-section></s-page>`);
  bindRange("range", "analytics");
  document.getElementById("exp-members").addEventListener("click", () => download("/api/admin/exports/members.csv", "regulars-customers.csv"));
  document.getElementById("exp-ledger").addEventListener("click", () => download("/api/admin/exports/ledger.csv", "regulars-points-history.csv"));
}
async function download(path, name) {
  const token = await window.shopify.idToken();
  const res = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  const a = Object.assign(document.createElement("a"), { href: URL.createObjectURL(await res.blob()), download: name });
  a.click();
}

// --- customers: an index table with search, filters, sort and pages -----------------------------------------
function pager(table, page, pages, path) {
  table.addEventListener("nextpage", () => go(path, { page: page + 1 }));
  table.addEventListener("previouspage", () => go(path, { page: page - 1 }));
}
function filterBar(form, path) {
  // Filters apply as they change (search after a pause), back to page 1.
  let timer = null;
  const apply = () => go(path, { ...formData(form), page: null, before: null });
  form.addEventListener("change", (e) => { if (!e.target.closest("s-search-field")) apply(); });
  form.addEventListener("input", (e) => { if (e.target.closest("s-search-field")) { clearTimeout(timer); timer = setTimeout(apply, 400); } });
  form.addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(timer); apply(); });
}
async function customers() {
  const render = renderer();
  const p = params();
  const q = new URLSearchParams([...p].filter(([k]) => ["q", "tier", "segment", "sort", "page"].includes(k)));
  const data = await api(`/api/admin/members?${q}`);
  const rows = data.members.map((m) => `<s-table-row><s-table-cell><s-link href="${link(`customers/${esc(m.customer_id)}`)}">${esc(m.name)}</s-link><br><s-text color="subdued">${esc(m.email)}</s-text></s-table-cell>
    <s-table-cell>${m.tier ? `<s-badge>${esc(m.tier)}</s-badge>` : "—"}</s-table-cell><s-table-cell format="numeric">${num(m.points_available)}</s-table-cell>
    <s-table-cell format="numeric">${num(m.points_pending)}</s-table-cell><s-table-cell format="numeric">${money(m.lifetime_spent)}</s-table-cell><s-table-cell>${day(m.last_order_at)}</s-table-cell></s-table-row>`).join("");
  render(`<s-page heading="Customers" inlineSize="large">
  <s-button slot="primary-action" variant="primary" id="export">Export (CSV)</s-button>
  <s-section><s-paragraph color="subdued">${count(data.total, { one: "{n} member", other: "{n} members" })}</s-paragraph>
  <s-table id="members" paginate ${data.page < data.pages ? "hasNextPage" : ""} ${data.page > 1 ? "hasPreviousPage" : ""}>
    <form slot="filters" id="filters" role="search"><s-stack direction="inline">
      ${field("s-search-field", { name: "q", label: "Search by name or email", value: p.get("q") || "", placeholder: "Search customers" })}
      ${select({ name: "tier", label: "Tier" }, { "": "All tiers", ...Object.fromEntries(data.tiers.map((t) => [t.id, t.name])) }, p.get("tier") || "")}
      ${select({ name: "segment", label: "Segment" }, { "": "All customers", ...data.segments }, p.get("segment") || "")}
      ${select({ name: "sort", label: "Sort by" }, Object.fromEntries(W.SORTS), p.get("sort") || "balance")}
    </s-stack></form>
    <s-table-header-row><s-table-header listSlot="primary">Customer</s-table-header><s-table-header>Tier</s-table-header><s-table-header format="numeric">Points</s-table-header><s-table-header format="numeric">Pending</s-table-header><s-table-header format="numeric">Spent</s-table-header><s-table-header>Last order</s-table-header></s-table-header-row>
    <s-table-body>${rows || `<s-table-row><s-table-cell>No customers match.</s-table-cell></s-table-row>`}</s-table-body>
  </s-table><s-paragraph color="subdued">Page ${num(data.page)} of ${num(Math.max(1, data.pages))}</s-paragraph></s-section></s-page>`);
  filterBar(document.getElementById("filters"), "customers");
  pager(document.getElementById("members"), data.page, data.pages, "customers");
  document.getElementById("export").addEventListener("click", () => download("/api/admin/exports/members.csv", "regulars-customers.csv"));
}

async function member(customerId) {
  const render = renderer();
  const m = await api(`/api/admin/members/${encodeURIComponent(customerId)}`);
  render(`<s-page heading="${esc(m.name)}">
  <s-link slot="breadcrumb-actions" href="${link("customers")}">Customers</s-link>
  <s-grid>
    <s-section><s-text color="subdued">Available points</s-text><div class="metric" data-testid="available">${num(m.points_available)}</div></s-section>
    <s-section><s-text color="subdued">Pending points</s-text><div class="metric" data-testid="pending">${num(m.points_pending)}</div></s-section>
    <s-section><s-text color="subdued">Tier</s-text><div class="metric">${esc(m.tier || "—")}</div><s-text color="subdued">since ${day(m.tier_since)}</s-text></s-section>
    <s-section><s-text color="subdued">Spent in total</s-text><div class="metric">${money(m.lifetime_spent)}</div><s-text color="subdued">${count(m.orders_count, { one: "{n} order", other: "{n} orders" })}</s-text></s-section>
  </s-grid>
  <s-section heading="Adjust points"><form id="adjust"><s-stack>
    ${field("s-number-field", { name: "points", "data-type": "int", label: "Points (negative to remove)", required: true, step: 1 })}
    ${field("s-text-field", { name: "reason", label: "Reason", required: true, maxlength: 255, details: "Required. Kept in the audit log, not shown to the customer." })}
    ${field("s-text-area", { name: "note", label: "Note to the shopper", maxlength: 1000, details: "Optional. Shown in their points history." })}
    <s-stack direction="inline"><s-button variant="primary" type="submit">Adjust</s-button></s-stack></s-stack></form></s-section>
  <s-section heading="Points history"><s-table><s-table-header-row><s-table-header>Date</s-table-header><s-table-header>What</s-table-header><s-table-header format="numeric">Points</s-table-header><s-table-header>Status</s-table-header><s-table-header>Reason and note</s-table-header></s-table-header-row>
    <s-table-body id="ledger">${m.ledger.map((e) => `<s-table-row><s-table-cell>${day(e.occurred_at || e.created_at)}</s-table-cell><s-table-cell>${esc(W.LEDGER_KINDS[e.kind] || W.sentence(e.kind))}</s-table-cell>
      <s-table-cell format="numeric"><s-text tone="${e.points < 0 ? "critical" : "success"}">${e.points > 0 ? "+" : ""}${num(e.points)}</s-text></s-table-cell><s-table-cell>${badge(e.status === "pending" ? ["Pending", "info"] : ["Available", "success"])}</s-table-cell>
      <s-table-cell>${esc(e.reason || "—")}${e.note ? `<br><s-text color="subdued">“${esc(e.note)}”</s-text>` : ""}</s-table-cell></s-table-row>`).join("") || `<s-table-row><s-table-cell>No points yet.</s-table-cell></s-table-row>`}</s-table-body></s-table></s-section>
  <s-section heading="Tier history"><s-unordered-list>${m.tier_changes.map((c) => `<s-list-item>${day(c.occurred_at || c.created_at)}: ${esc(c.from || "no tier")} → ${esc(c.to || "no tier")}</s-list-item>`).join("") || "<s-list-item>No changes yet.</s-list-item>"}</s-unordered-list></s-section>
  <s-section heading="Rewards and codes"><s-table><s-table-header-row><s-table-header>Code</s-table-header><s-table-header>Reward</s-table-header><s-table-header format="numeric">Points</s-table-header><s-table-header>Status</s-table-header><s-table-header>Expires</s-table-header></s-table-header-row>
    <s-table-body>${m.codes.map((c) => `<s-table-row><s-table-cell><code>${esc(c.code)}</code></s-table-cell><s-table-cell>${esc(c.reward)}</s-table-cell><s-table-cell format="numeric">${num(c.points)}</s-table-cell><s-table-cell>${badge(W.CODE_STATUS[c.status] || [W.sentence(c.status), "neutral"])}</s-table-cell><s-table-cell>${day(c.expires_at)}</s-table-cell></s-table-row>`).join("") || `<s-table-row><s-table-cell>No rewards redeemed yet.</s-table-cell></s-table-row>`}</s-table-body></s-table></s-section>
  <s-section heading="Referrals"><s-paragraph>Referral code: <code>${esc(m.referral_code || "—")}</code></s-paragraph><s-unordered-list>${m.referrals.map((r) => `<s-list-item>${esc(r.friend_email || r.friend_code)} ${badge(W.REFERRAL_STATUS[r.status] || [W.sentence(r.status), "neutral"])}</s-list-item>`).join("") || "<s-list-item>No referrals yet.</s-list-item>"}</s-unordered-list></s-section>
  </s-page>`);
  const form = document.getElementById("adjust");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const path = `/api/admin/members/${encodeURIComponent(customerId)}/adjustments`;
    const data = { ...formData(form), idempotency_key: crypto.randomUUID() };
    // Taking the balance below zero needs the merchant's explicit yes (the API refuses it without allow_negative).
    const below = (balance) => ask({
      title: "Take the balance below zero?",
      text: `${m.name} has ${points(balance)}. After this adjustment of ${num(data.points)}, the balance will be ${points(balance + data.points)}: they will need to earn the difference back before they can redeem.`,
      yes: "Adjust anyway", critical: true,
    });
    try {
      if (data.points < 0 && m.points_available + data.points < 0) {
        if (!(await below(m.points_available))) return;
        data.allow_negative = true;
      }
      let res;
      try {
        res = await send(path, "POST", data);
      } catch (err) {
        // The balance changed since the page was drawn: asked now with the fresh figure, then sent again.
        if (err.code !== "negative_balance") throw err;
        const fresh = await api(`/api/admin/members/${encodeURIComponent(customerId)}`);
        if (!(await below(fresh.points_available))) return;
        res = await send(path, "POST", { ...data, allow_negative: true });
      }
      toast(`Points adjusted: the balance is now ${points(res.points_available)}`);
      await member(customerId);
    } catch (err) { showErrors(form, err); }
  });
}

// --- points & actions: ways to earn, custom actions, campaigns --------------------------------------------
function campaignStatus(c) {
  if (c.status) return c.status;
  const now = Date.now();
  if (c.active === false) return "paused";
  if (c.ends_at && new Date(c.ends_at) < now) return "ended";
  if (c.starts_at && new Date(c.starts_at) > now) return "scheduled";
  return "active";
}
// The date in the merchant's own time zone, as a date field shows it.
const localDate = (iso) => (iso ? new Date(new Date(iso).getTime() - new Date(iso).getTimezoneOffset() * 6e4).toISOString().slice(0, 10) : "");
function campaignForm(c) {
  return `<form id="campaign" data-id="${c?.id ?? ""}"><s-stack>
    <s-heading>${c ? `Edit “${esc(c.name)}”` : "New campaign"}</s-heading>
    <s-stack direction="inline">${field("s-text-field", { name: "name", label: "Name", required: true, value: c?.name || "" })}
    ${select({ name: "kind", label: "What members get" }, W.CAMPAIGN_KINDS, c?.kind || "multiplier")}
    ${field("s-text-field", { name: "value", label: "Multiplier or bonus points", required: true, inputmode: "decimal", value: c?.value || "", details: "×2 doubles the points; a bonus adds points to each order." })}</s-stack>
    <s-stack direction="inline">${field("s-date-field", { name: "starts_at", label: "Starts on", required: true, value: localDate(c?.starts_at) })}
    ${field("s-date-field", { name: "ends_at", label: "Ends after", required: true, value: localDate(c?.ends_at), details: "The campaign runs to the end of that day." })}
    ${field("s-number-field", { name: "holdout_percent", "data-type": "int", label: "Holdout (%)", value: c?.holdout_percent ?? 0, min: 0, max: 50, details: "Members left out at random, to measure what the campaign changed." })}</s-stack>
    <s-stack direction="inline"><s-button variant="primary" type="submit">${c ? "Save campaign" : "Add campaign"}</s-button>${c ? `<s-button id="campaign-cancel">Cancel</s-button>` : ""}</s-stack>
  </s-stack></form>`;
}
async function pointsPage(arg) {
  const render = renderer();
  const p = await api("/api/admin/program");
  const s = p.settings;
  const editing = arg ? p.campaigns.find((c) => String(c.id) === String(arg)) : null;
  const earn = [
    `${num(s.points_per_currency_unit)} points for every ${money(1)} spent`,
    s.signup_points ? `${points(s.signup_points)} for joining` : null,
    s.birthday_points ? `${points(s.birthday_points)} on their birthday` : null,
    s.anniversary_points ? `${points(s.anniversary_points)} on the anniversary of joining` : null,
    s.referral_advocate_points ? `${points(s.referral_advocate_points)} for a friend's first order` : null,
  ].filter(Boolean);
  const campaignRows = p.campaigns.map((c) => {
    const st = campaignStatus(c);
    const [label, tone] = W.CAMPAIGN_STATUS[st] || [W.sentence(st), "neutral"];
    const value = c.kind === "multiplier" ? `×${num(c.value)}` : `+${points(c.value)} per order`;
    const actions = [`<s-button variant="tertiary" href="${link(`points/${c.id}`)}">Edit</s-button>`];
    if (c.status) {
      if (st === "active") actions.push(`<s-button data-campaign="pause" data-id="${c.id}">Pause</s-button>`);
      if (st === "paused") actions.push(`<s-button data-campaign="resume" data-id="${c.id}">Resume</s-button>`);
      if (st === "active" || st === "paused" || st === "scheduled") actions.push(`<s-button data-campaign="end" data-id="${c.id}">End now</s-button>`);
      actions.push(`<s-button tone="critical" variant="tertiary" data-campaign="delete" data-id="${c.id}">Delete</s-button>`);
    }
    return `<s-table-row data-campaign-row="${esc(c.name)}"><s-table-cell>${esc(c.name)}</s-table-cell><s-table-cell>${esc(W.CAMPAIGN_KINDS[c.kind] || W.sentence(c.kind))}: ${value}</s-table-cell>
      <s-table-cell>${day(c.starts_at)} – ${day(c.ends_at)}</s-table-cell><s-table-cell><s-badge tone="${tone}">${esc(label)}</s-badge></s-table-cell><s-table-cell><s-stack direction="inline" gap="small-200">${actions.join("")}</s-stack></s-table-cell></s-table-row>`;
  }).join("");
  render(`<s-page heading="Points &amp; actions">
  <s-button slot="primary-action" variant="primary" id="new-campaign">Add campaign</s-button>
  <s-section heading="How customers earn"><s-unordered-list>${earn.map((e) => `<s-list-item>${esc(e)}</s-list-item>`).join("")}</s-unordered-list>
    <s-paragraph><s-link href="${link("settings")}">Change earning in Settings</s-link></s-paragraph></s-section>
  <s-section heading="Campaigns"><s-table><s-table-header-row><s-table-header>Campaign</s-table-header><s-table-header>Offer</s-table-header><s-table-header>When</s-table-header><s-table-header>Status</s-table-header><s-table-header>Actions</s-table-header></s-table-header-row>
    <s-table-body id="campaigns">${campaignRows || `<s-table-row><s-table-cell>No campaigns yet.</s-table-cell></s-table-row>`}</s-table-body></s-table>
    <s-divider></s-divider>${campaignForm(editing)}</s-section>
  <s-section heading="Custom actions"><s-paragraph color="subdued">Points for things customers do elsewhere: following you, writing a review, coming to an event.</s-paragraph>
    <s-table><s-table-header-row><s-table-header>Action</s-table-header><s-table-header format="numeric">Points</s-table-header><s-table-header>How often</s-table-header><s-table-header>Who claims it</s-table-header></s-table-header-row>
    <s-table-body>${p.custom_actions.map((a) => `<s-table-row><s-table-cell>${esc(a.name)}</s-table-cell><s-table-cell format="numeric">${num(a.points)}</s-table-cell><s-table-cell>${esc(W.ACTION_LIMITS[a.limit] || W.sentence(a.limit))}</s-table-cell><s-table-cell>${a.honour_system ? "The customer, in the widget" : "Another app"}</s-table-cell></s-table-row>`).join("") || `<s-table-row><s-table-cell>None yet.</s-table-cell></s-table-row>`}</s-table-body></s-table>
    <form id="action"><s-stack direction="inline">${field("s-text-field", { name: "name", label: "Name", required: true })}
      ${field("s-text-field", { name: "key", label: "Code for developers", required: true, pattern: "[a-z0-9_]+", details: "Lower-case letters, digits and _ ; other apps send it." })}
      ${field("s-number-field", { name: "points", "data-type": "int", label: "Points", required: true, min: 1 })}
      ${select({ name: "limit", label: "How often" }, W.ACTION_LIMITS, "once")}
      ${field("s-checkbox", { name: "honour_system", label: "Customers can claim it themselves" })}
      <s-button type="submit">Add action</s-button></s-stack></form>
    <details><summary>For developers</summary><s-paragraph>Other apps award these by calling <code>POST ${esc(p.action_endpoint)}</code> signed with HMAC-SHA256 of the raw body in <code>X-Regulars-Hmac-Sha256</code>, using this secret:</s-paragraph>
    <s-paragraph><code class="secret" data-testid="action-secret">${esc(p.action_secret)}</code></s-paragraph></details></s-section>
  </s-page>`);
  document.getElementById("new-campaign").addEventListener("click", () => { if (editing) go("points"); document.querySelector("#campaign s-text-field")?.focus(); });
  document.getElementById("campaign-cancel")?.addEventListener("click", () => go("points"));
  const cf = document.getElementById("campaign");
  cf.addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = formData(cf);
    // From the start of the first day to the end of the last, in the merchant's time zone.
    if (d.starts_at) d.starts_at = new Date(`${d.starts_at}T00:00:00`).toISOString();
    if (d.ends_at) d.ends_at = new Date(`${d.ends_at}T23:59:59`).toISOString();
    try {
      if (editing) await send(`/api/admin/campaigns/${editing.id}`, "PUT", d);
      else await send("/api/admin/campaigns", "POST", d);
      toast(editing ? "Campaign saved" : "Campaign added");
      go("points");
    } catch (err) { showErrors(cf, err); }
  });
  const af = document.getElementById("action");
  af.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await send("/api/admin/custom-actions", "POST", formData(af)); toast("Action added"); await pointsPage(); } catch (err) { showErrors(af, err); }
  });
  main.querySelectorAll("[data-campaign]").forEach((b) => b.addEventListener("click", async () => {
    const c = p.campaigns.find((x) => String(x.id) === b.dataset.id);
    const what = b.dataset.campaign;
    if (what === "end" && !(await ask({ title: "End this campaign now?", text: `“${c.name}” stops giving its offer at once. It stays in the history.`, yes: "End campaign", critical: true }))) return;
    if (what === "delete" && !(await ask({ title: "Delete this campaign?", text: `“${c.name}” is removed from this list. Points it already gave stay, and the history keeps it.`, yes: "Delete", critical: true }))) return;
    try {
      if (what === "delete") await api(`/api/admin/campaigns/${c.id}`, { method: "DELETE" });
      else await send(`/api/admin/campaigns/${c.id}/${what}`, "POST");
      toast({ pause: "Campaign paused", resume: "Campaign resumed", end: "Campaign ended", delete: "Campaign deleted" }[what]);
      await pointsPage();
    } catch (err) { toast(err.message, { isError: true }); }
  }));
}

// --- tiers: edit with a what-if before saving ------------------------------------------------------------
// "1200.00" from the API reads as 1200 in a field the merchant edits.
const plain = (v) => (isNum(v) ? String(Number(v)) : v ?? "");
function tierRow(t, i) {
  const n = i + 1;
  return `<s-table-row data-id="${t.id ?? ""}">
    <s-table-cell>${field("s-text-field", { name: `tiers.${i}.name`, label: `Tier ${n} name`, labelAccessibilityVisibility: "exclusive", value: t.name })}</s-table-cell>
    <s-table-cell>${field("s-text-field", { name: `tiers.${i}.threshold`, label: `Tier ${n} threshold`, labelAccessibilityVisibility: "exclusive", value: plain(t.threshold), inputmode: "decimal" })}</s-table-cell>
    <s-table-cell>${field("s-text-field", { name: `tiers.${i}.multiplier`, label: `Tier ${n} multiplier`, labelAccessibilityVisibility: "exclusive", value: plain(t.multiplier), inputmode: "decimal" })}</s-table-cell>
    <s-table-cell>${field("s-number-field", { name: `tiers.${i}.entry_bonus`, label: `Tier ${n} entry bonus`, labelAccessibilityVisibility: "exclusive", value: t.entry_bonus, min: 0 })}</s-table-cell>
    <s-table-cell><s-button tone="critical" variant="tertiary" data-remove accessibilityLabel="Remove tier ${n}">Remove</s-button></s-table-cell></s-table-row>`;
}
function tiersOf(form) {
  return [...form.querySelectorAll("s-table-row[data-id]")].map((tr) => {
    const v = (k) => tr.querySelector(`[name$=".${k}"]`).value;
    return { id: tr.dataset.id ? Number(tr.dataset.id) : null, name: v("name"), threshold: v("threshold"), multiplier: v("multiplier"), entry_bonus: Number(v("entry_bonus") || 0) };
  });
}
async function tiers() {
  const render = renderer();
  const p = await api("/api/admin/program");
  const s = p.settings;
  const [metricLabel, unit] = W.TIER_METRICS[s.tier_metric] || [W.sentence(s.tier_metric), "points"];
  const unitText = { points: "points earned", money: `${shopInfo.currency} spent`, orders: "orders" }[unit];
  render(`<s-page heading="Tiers">
  <s-button slot="primary-action" variant="primary" id="add-tier">Add tier</s-button>
  <s-section heading="VIP tiers"><s-paragraph color="subdued">Customers reach a tier by ${esc(metricLabel.toLowerCase())}, counted ${esc((W.TIER_WINDOWS[s.tier_window] || "").toLowerCase())}: thresholds are in ${esc(unitText)}. <s-link href="${link("settings")}">Change this in Settings</s-link>.</s-paragraph>
    <form id="tiers"><s-table><s-table-header-row><s-table-header>Name</s-table-header><s-table-header>From (${esc(unitText)})</s-table-header><s-table-header>Points multiplier</s-table-header><s-table-header>Bonus on reaching it</s-table-header><s-table-header></s-table-header></s-table-header-row>
    <s-table-body>${p.tiers.map(tierRow).join("")}</s-table-body></s-table>
    <s-stack direction="inline"><s-button id="preview-tiers">Preview changes</s-button></s-stack>
    <div id="what-if" aria-live="polite"></div></form>
    <s-paragraph color="subdued">See how many customers would change tier before you save; nothing moves until you save.</s-paragraph></s-section></s-page>`);
  const form = document.getElementById("tiers");
  const body = form.querySelector("s-table-body");
  saveBar(form, (f) => send("/api/admin/tiers", "PUT", { tiers: tiersOf(f) }));
  const renumber = () => [...body.querySelectorAll("s-table-row[data-id]")].forEach((tr, i) => tr.querySelectorAll("[name]").forEach((el) => {
    el.setAttribute("name", el.getAttribute("name").replace(/^tiers\.\d+\./, `tiers.${i}.`));
  }));
  form.addEventListener("click", (e) => {
    const btn = e.target.closest("[data-remove]");
    if (!btn) return;
    btn.closest("s-table-row").remove();
    renumber();
    form.dispatchEvent(new Event("change"));
  });
  document.getElementById("add-tier").addEventListener("click", () => {
    body.insertAdjacentHTML("beforeend", tierRow({ name: "", threshold: "", multiplier: "1", entry_bonus: 0 }, body.querySelectorAll("s-table-row[data-id]").length));
    form.dispatchEvent(new Event("change"));
  });
  document.getElementById("preview-tiers").addEventListener("click", async () => {
    const out = document.getElementById("what-if");
    try {
      const w = await send("/api/admin/tiers/preview", "POST", { tiers: tiersOf(form) });
      form.querySelector(":scope > .form-errors")?.remove();
      form.querySelectorAll("[error]").forEach((el) => el.removeAttribute("error"));
      out.innerHTML = `<s-banner tone="info" data-testid="what-if" heading="If you save">${esc(count(w.moves_up, { one: "{n} member moves up", other: "{n} members move up" }))}, ${esc(count(w.moves_down, { one: "{n} moves down", other: "{n} move down" }))}, ${esc(count(w.unchanged, { one: "{n} stays where they are", other: "{n} stay where they are" }))}.</s-banner>`;
    } catch (err) { out.innerHTML = ""; showErrors(form, err); }
  });
}

// --- rewards ----------------------------------------------------------------------------------------------
function rewardValue(r) {
  if (r.type === "fixed_amount") return money(r.value);
  if (r.type === "percentage") return pct(r.value);
  if (r.type === "variable") return `${money(r.value)} per point`;
  return "—";
}
async function rewards() {
  const render = renderer();
  const p = await api("/api/admin/program");
  // A deleted reward leaves this list (the API no longer lists it; the history keeps it). One switched off stays, marked.
  const list = p.rewards.filter((r) => !r.deleted_at);
  const cur = shopInfo.currency;
  render(`<s-page heading="Rewards">
  <s-button slot="primary-action" variant="primary" id="new-reward">Add reward</s-button>
  <s-section heading="What customers can redeem"><s-table><s-table-header-row><s-table-header>Reward</s-table-header><s-table-header>Type</s-table-header><s-table-header format="numeric">Points</s-table-header><s-table-header format="numeric">Value</s-table-header><s-table-header>Status</s-table-header><s-table-header></s-table-header></s-table-header-row>
    <s-table-body id="reward-list">${list.map((r) => `<s-table-row data-reward="${esc(r.name)}"><s-table-cell>${esc(r.name)}</s-table-cell><s-table-cell>${esc(W.REWARD_TYPES[r.type] || W.sentence(r.type))}</s-table-cell>
      <s-table-cell format="numeric">${num(r.points_cost)}</s-table-cell><s-table-cell format="numeric">${rewardValue(r)}</s-table-cell>
      <s-table-cell>${r.active === false ? badge(["Off", "neutral"]) : badge(["On", "success"])}</s-table-cell>
      <s-table-cell><s-button tone="critical" variant="tertiary" data-del-reward="${r.id}" accessibilityLabel="Delete ${esc(r.name)}">Delete</s-button></s-table-cell></s-table-row>`).join("") || `<s-table-row><s-table-cell>No rewards yet.</s-table-cell></s-table-row>`}</s-table-body></s-table></s-section>
  <s-section heading="New reward"><form id="reward"><s-stack>
    <s-stack direction="inline">${field("s-text-field", { name: "name", label: "Name customers see", required: true, placeholder: `${money(5)} off your order` })}
    ${select({ name: "type", label: "Type" }, W.REWARD_TYPES, "fixed_amount")}
    ${field("s-number-field", { name: "points_cost", "data-type": "int", label: "Points it costs", required: true, min: 1 })}</s-stack>
    <s-stack direction="inline">
    <div data-when="fixed_amount percentage variable">${field("s-text-field", { name: "value", label: "Amount off", inputmode: "decimal", value: "0", suffix: cur, id: "reward-value" })}</div>
    ${field("s-money-field", { name: "minimum_subtotal", label: `Minimum order (${cur})`, value: "0", details: "0 = any order." })}</s-stack>
    <s-stack direction="inline"><s-button type="submit" variant="primary">Add reward</s-button></s-stack></s-stack></form></s-section></s-page>`);
  const form = document.getElementById("reward");
  const typeSel = form.querySelector("[name=type]");
  const applies = () => {
    const t = typeSel.value;
    form.querySelectorAll("[data-when]").forEach((el) => {
      const on = el.dataset.when.split(" ").includes(t);
      el.hidden = !on;
      if (on) el.removeAttribute("data-off"); else el.setAttribute("data-off", "");
    });
    const v = document.getElementById("reward-value");
    v.setAttribute("label", { percentage: "Percent off", variable: `Money per point (${cur})` }[t] || `Amount off (${cur})`);
  };
  typeSel.addEventListener("change", applies);
  applies();
  document.getElementById("new-reward").addEventListener("click", () => form.querySelector("[name=name]").focus());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await send("/api/admin/rewards", "POST", formData(form)); toast("Reward added"); await rewards(); } catch (err) { showErrors(form, err); }
  });
  main.querySelectorAll("[data-del-reward]").forEach((b) => b.addEventListener("click", async () => {
    const r = list.find((x) => String(x.id) === b.dataset.delReward);
    if (!(await ask({ title: "Delete this reward?", text: `“${r.name}” disappears from the widget and this list. Codes already given keep working until they expire.`, yes: "Delete reward", critical: true }))) return;
    try { await api(`/api/admin/rewards/${r.id}`, { method: "DELETE" }); toast("Reward deleted"); await rewards(); } catch (err) { toast(err.message, { isError: true }); }
  }));
}

// --- referrals: the review queue, then every referral as an index table -------------------------------------
async function referrals() {
  const render = renderer();
  const p = params();
  const q = new URLSearchParams([...p].filter(([k]) => ["q", "status", "sort", "page"].includes(k)));
  const [queue, all] = await Promise.all([api("/api/admin/referrals?status=review"), api(`/api/admin/referrals?${q}`)]);
  const page = all.page || 1, pages = all.pages || 1;
  const row = (r, decide) => `<s-table-row><s-table-cell>${esc(r.advocate)}</s-table-cell><s-table-cell>${esc(r.friend_email || "—")}</s-table-cell>
    <s-table-cell>${badge(W.REFERRAL_STATUS[r.status] || [W.sentence(r.status), "neutral"])}</s-table-cell>
    <s-table-cell>${(r.signals || []).map((s) => esc(s.label || s.message || W.sentence(s.name || s.signal || s.code || ""))).join(", ") || "—"}</s-table-cell><s-table-cell>${day(r.created_at)}</s-table-cell>
    <s-table-cell>${decide ? `<s-stack direction="inline" gap="small-200"><s-button data-decide="approve" data-id="${r.id}">Approve</s-button><s-button tone="critical" data-decide="reject" data-id="${r.id}">Reject</s-button></s-stack>` : ""}</s-table-cell></s-table-row>`;
  const head = `<s-table-header-row><s-table-header>Referred by</s-table-header><s-table-header>Friend</s-table-header><s-table-header>Status</s-table-header><s-table-header>Why it was flagged</s-table-header><s-table-header>Date</s-table-header><s-table-header></s-table-header></s-table-header-row>`;
  render(`<s-page heading="Referrals" inlineSize="large">
    <s-section heading="Waiting for your review"><s-table>${head}<s-table-body>${queue.referrals.map((r) => row(r, true)).join("") || `<s-table-row><s-table-cell>Nothing to review.</s-table-cell></s-table-row>`}</s-table-body></s-table></s-section>
    <s-section heading="All referrals">${all.total !== undefined ? `<s-paragraph color="subdued">${count(all.total, { one: "{n} referral", other: "{n} referrals" })}</s-paragraph>` : ""}
    <s-table id="all-referrals" paginate ${page < pages ? "hasNextPage" : ""} ${page > 1 ? "hasPreviousPage" : ""}>
      <form slot="filters" id="ref-filters" role="search"><s-stack direction="inline">
        ${field("s-search-field", { name: "q", label: "Search by customer or friend", value: p.get("q") || "" })}
        ${select({ name: "status", label: "Status" }, { "": "Any status", ...Object.fromEntries(Object.entries(W.REFERRAL_STATUS).map(([k, v]) => [k, v[0]])) }, p.get("status") || "")}
        ${select({ name: "sort", label: "Sort by" }, Object.fromEntries(W.REFERRAL_SORTS), p.get("sort") || "newest")}
      </s-stack></form>${head}<s-table-body>${all.referrals.map((r) => row(r, false)).join("") || `<s-table-row><s-table-cell>No referrals match.</s-table-cell></s-table-row>`}</s-table-body></s-table></s-section></s-page>`);
  filterBar(document.getElementById("ref-filters"), "referrals");
  pager(document.getElementById("all-referrals"), page, pages, "referrals");
  main.querySelectorAll("[data-decide]").forEach((b) => b.addEventListener("click", async () => {
    try { await send(`/api/admin/referrals/${b.dataset.id}/${b.dataset.decide}`, "POST"); toast(b.dataset.decide === "approve" ? "Referral approved" : "Referral rejected"); } catch (err) { toast(err.message, { isError: true }); }
    await referrals();
  }));
}

// --- settings: grouped as the merchant thinks, one line of help each, only what applies --------------------
const SETTINGS = [
  ["earning", "Earning", [
    ["enabled", "check", "The program is on", "Off: nobody earns or redeems; members keep their points."],
    ["points_per_currency_unit", "decimal", "Points per {cur} spent", "Customers earn this many points for each {cur} of the order."],
    ["include_shipping", "check", "Shipping earns points", "Count what customers pay for shipping."],
    ["include_taxes", "check", "Taxes earn points", "Count the taxes on the order."],
    ["allow_test_orders", "check", "Test orders earn points", "Useful while you try the program out."],
    ["pending_days", "int", "Days before order points can be spent", "Covers your return window, so points for a returned order are never spent."],
    ["signup_points", "int", "Points for joining", "Given once, when a customer joins."],
    ["birthday_points", "int", "Birthday points", "Given on the customer's birthday; 0 = none."],
    ["anniversary_points", "int", "Anniversary points", "Given each year on the day they joined; 0 = none."],
  ]],
  ["redeeming", "Redeeming", [
    ["point_value", "decimal", "What 1 point is worth ({cur})", "Used for the value of points-for-money rewards and for the points liability."],
    ["code_expiry_days", "int", "Reward codes expire after (days)", "A code nobody uses stops working after this many days."],
    ["refund_expired_codes", "check", "Give the points back for codes that expire unused", "The customer gets the points again when a code expires."],
    ["reversal_policy", "select", "When a refund takes back more points than the customer has", "", W.REVERSAL],
  ]],
  ["tiers", "Tiers", [
    ["tier_metric", "select", "Customers reach a tier by", "What the tier thresholds count.", Object.fromEntries(Object.entries(W.TIER_METRICS).map(([k, v]) => [k, v[0]]))],
    ["tier_window", "select", "Counted over", "Since joining never drops a customer; a window lets a tier lapse.", W.TIER_WINDOWS],
    ["downgrade_grace_days", "int", "Days of grace before moving a customer down", "Time to catch up before they lose the tier.", null, (s) => s.tier_window !== "lifetime"],
  ]],
  ["referrals", "Referrals", [
    ["referral_friend_discount", "decimal", "The friend's discount ({cur})", "Off the friend's first order."],
    ["referral_advocate_points", "int", "Points for the customer who referred", "Given when the friend's first order is paid."],
    ["referral_monthly_limit", "int", "Referrals a month before you review them", "Past this, new referrals wait for your approval."],
  ]],
  ["expiry", "Expiry", [
    ["expiry_mode", "select", "Points expiry", "", W.EXPIRY],
    ["expiry_days", "int", "Days without activity before points expire", "Any order or redemption restarts the count.", null, (s) => s.expiry_mode !== "none"],
    ["expiry_reminder_days", "list", "Remind customers this many days before", "Separate several with commas, for example 30, 7.", null, (s) => s.expiry_mode !== "none"],
  ]],
];
const SETTING_KEYS = new Set(SETTINGS.flatMap(([, , fields]) => fields.map((f) => f[0])));
function settingField(s, [key, kind, label, help, choices, when]) {
  const cur = shopInfo.currency;
  const attrs = { name: key, label: label.replace("{cur}", cur), details: help.replace("{cur}", cur) || null };
  const v = s[key];
  let html;
  if (kind === "check") html = field("s-checkbox", { ...attrs, checked: !!v });
  else if (kind === "select") html = select(attrs, choices, v);
  else if (kind === "int") html = field("s-number-field", { ...attrs, "data-type": "int", value: v, min: 0, step: 1 });
  else if (kind === "list") html = field("s-text-field", { ...attrs, "data-type": "list", value: (v || []).join(", ") });
  else html = field("s-text-field", { ...attrs, value: v, inputmode: "decimal" });
  return `<div class="setting" data-key="${key}"${when ? " data-conditional" : ""}>${html}</div>`;
}
// Languages: the shopper texts and the reward and tier names per language (/api/admin/texts). A text is labelled
// by what it says in English, never by its key; an empty field keeps Regulars' own wording.
const languageName = (code) => {
  try { return new Intl.DisplayNames([LOCALE], { type: "language" }).of(code) || code; } catch { return code; }
};
function pluralExamples(locale, form) {
  // "used for 2, 3, 4": the numbers this CLDR form is used for in that language, so the merchant knows which one it is.
  const rules = new Intl.PluralRules(locale);
  const found = [];
  for (let n = 0; n < 200 && found.length < 3; n += 1) if (rules.select(n) === form) found.push(n);
  return found.length ? `Used for ${found.map(num).join(", ")}…` : "";
}
function languageFields(t, loc, pending) {
  const val = (name, saved) => (name in pending ? pending[name] : saved || "");
  const names = [...t.rewards.map((r) => ["rewards", r, "Reward"]), ...t.tiers.map((x) => ["tiers", x, "Tier"])].map(([kind, r, what]) =>
    field("s-text-field", { name: `${kind}.${r.id}.${loc}`, label: `${what}: ${r.name}`, value: val(`${kind}.${r.id}.${loc}`, r.names?.[loc]), placeholder: r.name, maxlength: kind === "tiers" ? 64 : 128 })).join("");
  const texts = t.texts.filter((x) => x.default[loc] !== undefined).map((x) => {
    const name = `texts.${loc}.${x.key}`;
    const help = [loc !== "en" && x.default.en ? `Regulars says: ${x.default[loc]}` : "",
      x.plural_form ? pluralExamples(loc, x.plural_form) : "",
      x.placeholders.length ? `Keep ${x.placeholders.map((ph) => `{${ph}}`).join(", ")}.` : ""].filter(Boolean).join(" ");
    return `<div class="text-entry">${field("s-text-field", { name, label: x.default.en || x.default[loc], details: help || null, value: val(name, x.override[loc]), placeholder: x.default[loc], maxlength: 500 })}</div>`;
  }).join("");
  return `<s-heading>Reward and tier names</s-heading><s-stack>${names}</s-stack>
    <s-heading>Texts customers read</s-heading>${field("s-search-field", { id: "text-filter", label: "Find a text", placeholder: "Search the texts" })}
    <s-stack id="text-list">${texts}</s-stack>`;
}
function textsBody(pending, original) {
  // Only what the merchant changed; an emptied field goes back to the default (null).
  const body = {};
  for (const [name, value] of Object.entries(pending)) {
    if ((original[name] || "") === value) continue;
    const [kind, a, ...rest] = name.split(".");
    // texts.<language>.<key> → {texts: {language: {key: text}}}; rewards.<id>.<language> → {rewards: {id: {language: name}}}
    ((body[kind] ||= {})[a] ||= {})[rest.join(".")] = value.trim() ? value : null;
  }
  return body;
}
let editLanguage = null;
async function settings() {
  const render = renderer();
  const [p, t] = await Promise.all([api("/api/admin/program"), api("/api/admin/texts")]);
  const s = p.settings;
  const locales = t.locales || [];
  const original = {};
  for (const x of t.texts) for (const [loc, v] of Object.entries(x.override || {})) original[`texts.${loc}.${x.key}`] = v;
  for (const kind of ["rewards", "tiers"]) for (const r of t[kind]) for (const [loc, v] of Object.entries(r.names || {})) original[`${kind}.${r.id}.${loc}`] = v;
  const pending = {};
  // The language being edited stays chosen when the page is drawn again after a save.
  let loc = locales.includes(editLanguage) ? editLanguage : locales.find((l) => l !== "en") || "en";
  render(`<s-page heading="Settings">
  <s-button slot="secondary-actions" href="${link("api-keys")}">API keys</s-button>
  <s-button slot="secondary-actions" href="${link("audit")}">Audit log</s-button>
  <form id="settings">${SETTINGS.map(([id, title, fields]) => `<s-section heading="${esc(title)}" id="group-${id}"><s-stack>${fields.map((f) => settingField(s, f)).join("")}</s-stack></s-section>`).join("")}
  <s-section heading="Languages" id="group-languages"><s-stack>
    <s-paragraph>Customers read the widget, the referral page and the emails in their storefront's language. Change any text or name for a language here; an empty field keeps Regulars' wording.</s-paragraph>
    ${select({ id: "language-choice", label: "Language to edit" }, Object.fromEntries(locales.map((l) => [l, languageName(l)])), loc)}
    <div id="language-fields">${languageFields(t, loc, pending)}</div></s-stack></s-section>
  </form></s-page>`);
  const form = document.getElementById("settings");
  const rules = Object.fromEntries(SETTINGS.flatMap(([, , fields]) => fields.filter((f) => f[5]).map((f) => [f[0], f[5]])));
  const settingsNow = () => Object.fromEntries(Object.entries(formData(form)).filter(([k]) => SETTING_KEYS.has(k)));
  const applies = () => {
    const now = { ...s, ...settingsNow() };
    for (const el of form.querySelectorAll("[data-conditional]")) {
      const on = rules[el.dataset.key](now);
      el.hidden = !on;
      if (on) el.removeAttribute("data-off"); else el.setAttribute("data-off", "");
    }
  };
  form.addEventListener("change", applies);
  applies();
  const langs = document.getElementById("language-fields");
  const filter = () => {
    const needle = (document.querySelector("#text-filter")?.value || "").toLowerCase();
    for (const el of langs.querySelectorAll(".text-entry")) el.hidden = !!needle && !el.textContent.toLowerCase().includes(needle) && !(el.querySelector("[name]")?.value || "").toLowerCase().includes(needle);
  };
  langs.addEventListener("input", (e) => {
    const f = e.target.closest("[name]");
    if (f) pending[f.getAttribute("name")] = f.value;
    else if (e.target.closest("#text-filter")) { e.stopPropagation(); filter(); }
  });
  // Choosing which language to edit (and searching the texts) changes nothing: no save bar for them.
  const choice = document.getElementById("language-choice");
  for (const type of ["input", "change"]) choice.addEventListener(type, (e) => e.stopPropagation());
  choice.addEventListener("change", () => { loc = editLanguage = choice.value; langs.innerHTML = languageFields(t, loc, pending); });
  saveBar(form, async () => {
    // Only what changed goes out: the audit log then says what the merchant did.
    const now = settingsNow();
    const patch = Object.fromEntries(Object.entries(now).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(Array.isArray(s[k]) ? s[k] : typeof v === "string" ? String(s[k]) : s[k])));
    const body = textsBody(pending, original);
    if (Object.keys(patch).length) await send("/api/admin/settings", "PATCH", patch);
    if (Object.keys(body).length) {
      try { await send("/api/admin/texts", "PUT", body); } catch (err) {
        // A refused text is shown in its language, under its field.
        const first = Object.keys(err.fields || {})[0] || "";
        const errLoc = first.startsWith("texts.") ? first.split(".")[1] : first.split(".")[2];
        if (errLoc && errLoc !== loc && locales.includes(errLoc)) { loc = errLoc; choice.value = loc; langs.innerHTML = languageFields(t, loc, pending); }
        throw err;
      }
    }
  });
}

// --- API keys and the audit log -----------------------------------------------------------------------------
async function keys() {
  const render = renderer();
  const data = await api("/api/admin/api-keys");
  render(`<s-page heading="API keys"><s-link slot="breadcrumb-actions" href="${link("settings")}">Settings</s-link>
    <div id="new-key"></div><s-section><s-paragraph>Keys let your developers use the public API (header <code>X-Regulars-Api-Key</code>). A key is shown once; Regulars keeps only a fingerprint of it.</s-paragraph>
    <form id="key-form"><s-stack direction="inline">${field("s-text-field", { name: "name", label: "Name", required: true, maxlength: 128, details: "Who or what uses it, for example “Reviews app”." })}<s-button variant="primary" type="submit">Create key</s-button></s-stack></form></s-section>
    <s-section><s-table><s-table-header-row><s-table-header>Name</s-table-header><s-table-header>Starts with</s-table-header><s-table-header>Created</s-table-header><s-table-header>Last used</s-table-header><s-table-header>Status</s-table-header><s-table-header></s-table-header></s-table-header-row><s-table-body>
    ${data.keys.map((k) => `<s-table-row><s-table-cell>${esc(k.name)}</s-table-cell><s-table-cell><code>${esc(k.prefix)}…</code></s-table-cell><s-table-cell>${day(k.created_at)}</s-table-cell><s-table-cell>${day(k.last_used_at)}</s-table-cell>
      <s-table-cell>${k.revoked_at ? badge(["Revoked", "neutral"]) : badge(["Active", "success"])}</s-table-cell><s-table-cell>${k.revoked_at ? "" : `<s-button tone="critical" variant="tertiary" data-revoke="${k.id}">Revoke</s-button>`}</s-table-cell></s-table-row>`).join("") || `<s-table-row><s-table-cell>No keys yet.</s-table-cell></s-table-row>`}</s-table-body></s-table></s-section></s-page>`);
  document.getElementById("key-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const k = await send("/api/admin/api-keys", "POST", formData(e.target));
      await keys();
      document.getElementById("new-key").innerHTML = `<s-banner tone="success" heading="Copy this key now: it will not be shown again"><code class="secret" data-testid="new-key">${esc(k.key)}</code></s-banner>`;
    } catch (err) { showErrors(e.target, err); }
  });
  main.querySelectorAll("[data-revoke]").forEach((b) => b.addEventListener("click", async () => {
    if (!(await ask({ title: "Revoke this key?", text: "Apps using it stop working at once.", yes: "Revoke", critical: true }))) return;
    await api(`/api/admin/api-keys/${b.dataset.revoke}`, { method: "DELETE" });
    toast("Key revoked");
    await keys();
  }));
}
function settingValue(key, v) {
  if (typeof v === "boolean") return v ? "on" : "off";
  for (const [, , fields] of SETTINGS) for (const f of fields) if (f[0] === key && f[4]) return String(f[4][v] ?? W.sentence(v)).toLowerCase();
  return Array.isArray(v) ? v.map(num).join(", ") : isNum(v) ? num(v) : String(v ?? "");
}
function auditDetails(a) {
  const d = a.details || {};
  // Settings in the words of the Settings page (the API's summary names them by their keys' words).
  if (/^(settings|setup)[._]/.test(a.action) && d && typeof d === "object") {
    const changes = d.changes || d.patch || d.choices || d.settings || d;
    if (changes && typeof changes === "object" && !Array.isArray(changes)) {
      return Object.entries(changes).filter(([k]) => SETTING_KEYS.has(k)).map(([k, v]) => `${labelOfSetting(k)}: ${settingValue(k, v)}`).join(" · ");
    }
  }
  if (a.summary) return a.summary;
  const changes = d.changes || d.patch;
  if (changes && typeof changes === "object") return Object.keys(changes).map((k) => labelOfSetting(k)).join(", ");
  if (d.points !== undefined) return `${num(d.points)} points${d.reason ? `: ${d.reason}` : ""}`;
  if (Array.isArray(d.tiers)) return d.tiers.map((t) => t.name).join(", ");
  if (d.name) return d.name;
  return "";
}
function labelOfSetting(key) {
  for (const [, , fields] of SETTINGS) for (const f of fields) if (f[0] === key) return f[2].replace("{cur}", shopInfo.currency);
  return W.sentence(key);
}
async function audit() {
  const render = renderer();
  const p = params();
  const q = new URLSearchParams([...p].filter(([k]) => ["action", "q", "before"].includes(k)));
  const data = await api(`/api/admin/audit?${q}`);
  // Filtered here too, so the page reads right whether or not the API applied the filters itself.
  const what = (a) => a.label || W.AUDIT_ACTIONS[a.action] || W.sentence(a.action);
  const needle = (p.get("q") || "").toLowerCase();
  const wanted = p.get("action") ? what({ action: p.get("action") }) : null;
  if (!data.actions) data.entries = data.entries.filter((a) => (!wanted || what(a) === wanted)
    && (!needle || [what(a), a.actor_label || W.actorText(a.actor), auditDetails(a)].join(" ").toLowerCase().includes(needle)));
  // The API names its actions with their labels; the local table is the fallback for an older API.
  const named = data.actions ? data.actions.map((x) => [x.action, x.label]) : Object.entries(W.AUDIT_ACTIONS).filter(([, v], i, all) => all.findIndex(([, w]) => w === v) === i);
  const actions = { "": "All actions", ...Object.fromEntries(named) };
  render(`<s-page heading="Audit log" inlineSize="large"><s-link slot="breadcrumb-actions" href="${link("settings")}">Settings</s-link>
    <s-section><s-table id="audit" paginate ${data.next_before ? "hasNextPage" : ""} ${p.get("before") ? "hasPreviousPage" : ""}>
      <form slot="filters" id="audit-filters" role="search"><s-stack direction="inline">
        ${field("s-search-field", { name: "q", label: "Search the log", value: p.get("q") || "" })}
        ${select({ name: "action", label: "Action" }, actions, p.get("action") || "")}</s-stack></form>
      <s-table-header-row><s-table-header>When</s-table-header><s-table-header>Who</s-table-header><s-table-header>What</s-table-header><s-table-header>Details</s-table-header></s-table-header-row>
      <s-table-body>${data.entries.map((a) => `<s-table-row><s-table-cell>${when(a.created_at)}</s-table-cell><s-table-cell>${esc(a.actor_label || W.actorText(a.actor))}</s-table-cell>
        <s-table-cell>${esc(what(a))}</s-table-cell><s-table-cell class="wrap">${esc(auditDetails(a))}</s-table-cell></s-table-row>`).join("") || `<s-table-row><s-table-cell>Nothing matches.</s-table-cell></s-table-row>`}</s-table-body>
    </s-table></s-section></s-page>`);
  filterBar(document.getElementById("audit-filters"), "audit");
  const table = document.getElementById("audit");
  table.addEventListener("nextpage", () => go("audit", { before: data.next_before }));
  table.addEventListener("previouspage", () => go("audit", { before: null }));
}
