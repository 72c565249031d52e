// Regulars admin page: plain ES module, no dependencies. Every /api call carries a fresh App Bridge session token.
import { automations as automationsPage } from "./automations.js";

const main = document.getElementById("main");
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const dash = (v) => (v === null || v === undefined ? "—" : esc(v));
let shopInfo = null;

async function api(path, opts = {}) {
  // A new token per request: Shopify's session tokens live one minute.
  const token = await window.shopify.idToken();
  const res = await fetch(path, {
    ...opts,
    headers: { Authorization: `Bearer ${token}`, ...(opts.body ? { "Content-Type": "application/json" } : {}) },
  });
  const body = res.headers.get("Content-Type")?.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw Object.assign(new Error(body?.error?.message || res.statusText), { code: body?.error?.code, fields: body?.error?.fields || {} });
  return body;
}
const send = (path, method, data) => api(path, { method, body: JSON.stringify(data ?? {}) });

function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg; t.hidden = false;
  setTimeout(() => (t.hidden = true), 3000);
}
function showErrors(form, err) {
  form.querySelectorAll(".error").forEach((e) => e.remove());
  const general = document.createElement("p");
  general.className = "error"; general.setAttribute("role", "alert"); general.textContent = err.message;
  form.prepend(general);
  for (const [name, msg] of Object.entries(err.fields || {})) {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    const p = document.createElement("p");
    p.className = "error"; p.id = `err-${name}`; p.textContent = `${name}: ${msg}`;
    if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", p.id); input.after(p); }
    else general.after(p);
  }
}
function formData(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") out[el.name] = el.checked;
    else if (el.dataset.type === "int") out[el.name] = el.value === "" ? null : Number(el.value);
    else if (el.dataset.type === "list") out[el.name] = el.value.split(",").map((s) => Number(s.trim())).filter((n) => n);
    else out[el.name] = el.value;
  }
  return out;
}
const money = (v) => (v === null || v === undefined ? "—" : `${esc(v)} ${esc(shopInfo?.currency || "")}`);
const date = (v) => (v ? esc(v.slice(0, 10)) : "—");

// --- router --------------------------------------------------------------------------------------
const automations = (arg) => automationsPage(main, { api, send, esc, toast, showErrors, money }, arg);
const routes = { dashboard, members, member, program, referrals, automations, keys, audit, setup };
async function route() {
  const [name, arg] = (location.hash.replace(/^#\//, "").split("?")[0] || "dashboard").split("/");
  document.querySelectorAll("#nav a").forEach((a) => {
    if (a.hash === `#/${name}` || (name === "member" && a.hash === "#/members")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  try {
    shopInfo = shopInfo || (await api("/api/admin/shop"));
    if (!shopInfo.setup_completed && name !== "setup") return (location.hash = "#/setup");
    await (routes[name] || dashboard)(arg);
  } catch (err) {
    main.innerHTML = `<div class="banner" role="alert">Something went wrong: ${esc(err.message)}</div>`;
  }
}
window.addEventListener("hashchange", route);
route();

// --- setup ---------------------------------------------------------------------------------------
async function setup() {
  const d = shopInfo.setup_defaults;
  const s = d.settings;
  main.innerHTML = `<h1>Set up your loyalty program</h1>
  <div class="card"><p>Good defaults are filled in: change what you like, then start. Everything can be edited later.</p>
  <form class="stack" id="setup-form">
    <label><span><input type="checkbox" name="enabled" ${s.enabled ? "checked" : ""}> Program on</span></label>
    <label>Points per 1 ${esc(shopInfo.currency)} spent<input name="points_per_currency_unit" inputmode="decimal" value="${esc(s.points_per_currency_unit)}"></label>
    <label>Sign-up bonus (points)<input name="signup_points" data-type="int" type="number" value="${esc(s.signup_points)}"></label>
    <label>Days before order points can be spent<input name="pending_days" data-type="int" type="number" value="${esc(s.pending_days)}"></label>
    <label>Referral: friend's discount (${esc(shopInfo.currency)})<input name="referral_friend_discount" inputmode="decimal" value="${esc(s.referral_friend_discount)}"></label>
    <label>Referral: points for the advocate<input name="referral_advocate_points" data-type="int" type="number" value="${esc(s.referral_advocate_points)}"></label>
    <h2>Tiers</h2><ul>${d.tiers.map((t) => `<li>${esc(t.name)} from ${esc(t.threshold)} points, earning ×${esc(t.multiplier)}</li>`).join("")}</ul>
    <h2>Rewards</h2><ul>${d.rewards.map((r) => `<li>${esc(r.name)} for ${esc(r.points_cost)} points</li>`).join("")}</ul>
    <div><button class="primary" type="submit">Start the program</button></div>
  </form></div>`;
  const form = document.getElementById("setup-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await send("/api/admin/setup", "POST", formData(form));
      shopInfo.setup_completed = true;
      toast("Your program is live");
      location.hash = "#/program";
    } catch (err) { showErrors(form, err); }
  });
}

// --- dashboard -----------------------------------------------------------------------------------
function bars(items, label) {
  // Inline SVG bar chart: no chart library needed for a handful of bars.
  const max = Math.max(1, ...items.map((i) => i.value));
  const w = 320, rowH = 26;
  return `<svg role="img" aria-label="${esc(label)}" viewBox="0 0 ${w} ${items.length * rowH}" width="100%" style="max-width:${w}px">
    ${items.map((i, n) => `<g transform="translate(0 ${n * rowH})"><text x="0" y="16">${esc(i.label)}</text>
      <rect x="110" y="4" height="16" rx="3" width="${Math.round((150 * i.value) / max)}" fill="#303030"></rect>
      <text x="${116 + Math.round((150 * i.value) / max)}" y="16">${esc(i.value)}</text></g>`).join("")}</svg>`;
}
function metric(name, label, value, formulas) {
  return `<div class="card"><dl class="metric"><dt id="m-${name}">${esc(label)}</dt><dd data-metric="${name}" aria-labelledby="m-${name}">${value}</dd></dl>
    <details><summary>How it is calculated</summary><p>${esc(formulas[name] || "")}</p></details></div>`;
}
async function dashboard() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const today = new Date().toISOString().slice(0, 10);
  const from = params.get("from") || new Date(Date.now() - 89 * 864e5).toISOString().slice(0, 10);
  const to = params.get("to") || today;
  const q = `from=${from}&to=${to}`;
  const [s, seg, coh] = await Promise.all([api(`/api/admin/analytics/summary?${q}`), api("/api/admin/analytics/segments"), api(`/api/admin/analytics/cohorts?${q}`)]);
  const f = s.formulas;
  const pct = (v) => (v === null ? "—" : `${esc(v)}%`);
  const mv = s.members_vs_non_members;
  main.innerHTML = `<h1>Retention dashboard</h1>
  <form class="card row" id="range"><label>From<input type="date" name="from" value="${esc(from)}"></label>
    <label>To<input type="date" name="to" value="${esc(to)}"></label><button type="submit">Show</button>
    <button type="button" id="exp-members">Export members (CSV)</button><button type="button" id="exp-ledger">Export ledger (CSV)</button></form>
  <div class="grid">
    ${metric("repeat_customer_rate", "Repeat customer rate", pct(s.repeat_customer_rate), f)}
    ${metric("purchase_frequency", "Purchase frequency", dash(s.purchase_frequency), f)}
    ${metric("average_order_value", "Average order value", money(s.average_order_value), f)}
    ${metric("customer_lifetime_value", "Customer lifetime value", money(s.customer_lifetime_value), f)}
    ${metric("churn_rate", "Churn rate", pct(s.churn_rate), f)}
    ${metric("retention_rate", "Retention rate", pct(s.retention_rate), f)}
    ${metric("median_days_to_second_order", "Median days to 2nd order", dash(s.median_days_to_second_order), f)}
    ${metric("redemption_rate", "Redemption rate", pct(s.redemption_rate), f)}
    ${metric("points_liability", "Points liability", money(s.points_liability), f)}
    ${metric("referral_revenue", "Referral revenue", money(s.referral_revenue), f)}
  </div>
  <div class="card"><h2>Points in the period</h2>${bars([{ label: "Issued", value: s.points_issued }, { label: "Redeemed", value: s.points_redeemed }, { label: "Expired", value: s.points_expired }], "Points issued, redeemed and expired")}</div>
  <div class="card"><h2>Members vs non-members</h2><table><thead><tr><th scope="col"></th><th class="num" scope="col">Customers</th><th class="num" scope="col">Orders</th><th class="num" scope="col">AOV</th><th class="num" scope="col">Frequency</th><th class="num" scope="col">Revenue share</th></tr></thead><tbody>
    ${[["Members", mv.members], ["Non-members", mv.non_members]].map(([n, g]) => `<tr data-group="${n}"><th scope="row">${n}</th><td class="num">${g.customers}</td><td class="num">${g.orders}</td><td class="num">${money(g.average_order_value)}</td><td class="num">${dash(g.purchase_frequency)}</td><td class="num">${pct(g.revenue_share)}</td></tr>`).join("")}
  </tbody></table></div>
  <div class="card"><h2>Recency (days since last order, today)</h2>${bars(Object.entries(seg.recency).map(([k, v]) => ({ label: `${k} days`, value: v.customers })), "Customers by days since last order")}
    <table><thead><tr><th scope="col">Bucket</th><th class="num" scope="col">Customers</th><th class="num" scope="col">Revenue</th></tr></thead><tbody>${Object.entries(seg.recency).map(([k, v]) => `<tr data-bucket="${k}"><td>${k}</td><td class="num">${v.customers}</td><td class="num">${money(v.revenue)}</td></tr>`).join("")}</tbody></table>
    <details><summary>How it is calculated</summary><p>${esc(f.recency)}</p></details></div>
  <div class="card"><h2>RFM segments</h2>${bars(Object.entries(seg.rfm).map(([k, v]) => ({ label: k, value: v.customers })), "Customers by RFM segment")}
    <details><summary>How it is calculated</summary><p>${esc(f.rfm)}</p></details></div>
  <div class="card"><h2>Monthly cohort retention</h2><table class="heat"><caption class="muted">${esc(coh.formula)}</caption><thead><tr><th scope="col">Cohort</th><th scope="col">Customers</th>${Array.from({ length: Math.max(0, ...coh.cohorts.map((c) => c.retention.length)) }, (_, k) => `<th scope="col">M${k}</th>`).join("")}</tr></thead><tbody>
    ${coh.cohorts.map((c) => `<tr><th scope="row">${esc(c.cohort)}</th><td>${c.customers}</td>${c.retention.map((v) => `<td style="background:rgba(48,48,48,${v ? Math.min(0.6, v / 160) : 0})">${v === null ? "—" : esc(v) + "%"}</td>`).join("")}</tr>`).join("")}
  </tbody></table></div>`;
  document.getElementById("range").addEventListener("submit", (e) => {
    e.preventDefault();
    const d = formData(e.target);
    location.hash = `#/dashboard?from=${d.from}&to=${d.to}`;
  });
  for (const what of ["members", "ledger"]) {
    document.getElementById(`exp-${what}`).addEventListener("click", () => download(`/api/admin/exports/${what}.csv`, `regulars-${what}.csv`));
  }
}
async function download(path, name) {
  const token = await window.shopify.idToken();
  const res = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  const a = Object.assign(document.createElement("a"), { href: URL.createObjectURL(await res.blob()), download: name });
  a.click();
}

// --- members -------------------------------------------------------------------------------------
async function members() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const data = await api(`/api/admin/members?${params}`);
  const opt = (v, l, cur) => `<option value="${esc(v)}" ${String(cur) === String(v) ? "selected" : ""}>${esc(l)}</option>`;
  main.innerHTML = `<h1>Members <span class="badge">${data.total}</span></h1>
  <form class="card row" id="filters" role="search">
    <label>Search name or email<input type="search" name="q" value="${esc(params.get("q") || "")}"></label>
    <label>Tier<select name="tier">${opt("", "All tiers", params.get("tier") || "")}${data.tiers.map((t) => opt(t.id, t.name, params.get("tier"))).join("")}</select></label>
    <label>Segment<select name="segment">${opt("", "All", params.get("segment") || "")}${Object.entries(data.segments).map(([k, v]) => opt(k, v, params.get("segment"))).join("")}</select></label>
    <label>Sort by<select name="sort">${[["balance", "Balance"], ["spend", "Spend"], ["last_order", "Last order"], ["newest", "Newest"]].map(([k, v]) => opt(k, v, params.get("sort") || "balance")).join("")}</select></label>
    <button type="submit">Apply</button></form>
  <div class="card"><table><thead><tr><th scope="col">Member</th><th scope="col">Tier</th><th class="num" scope="col">Available</th><th class="num" scope="col">Pending</th><th class="num" scope="col">Spent</th><th scope="col">Last order</th></tr></thead><tbody>
  ${data.members.map((m) => `<tr><td><a href="#/member/${esc(m.customer_id)}">${esc(m.name)}</a><br><span class="muted">${esc(m.email)}</span></td><td>${dash(m.tier)}</td><td class="num">${m.points_available}</td><td class="num">${m.points_pending}</td><td class="num">${money(m.lifetime_spent)}</td><td>${date(m.last_order_at)}</td></tr>`).join("") || `<tr><td colspan="6">No members match.</td></tr>`}
  </tbody></table>
  <nav aria-label="Pages" class="row"><span>Page ${data.page} of ${data.pages}</span>
    ${data.page > 1 ? `<a href="#/members?${pageParams(params, data.page - 1)}">Previous</a>` : ""}
    ${data.page < data.pages ? `<a href="#/members?${pageParams(params, data.page + 1)}">Next</a>` : ""}</nav></div>`;
  document.getElementById("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams(Object.entries(formData(e.target)).filter(([, v]) => v));
    location.hash = `#/members?${p}`;
  });
}
function pageParams(params, page) { const p = new URLSearchParams(params); p.set("page", page); return p; }

async function member(customerId) {
  const m = await api(`/api/admin/members/${encodeURIComponent(customerId)}`);
  main.innerHTML = `<p><a href="#/members">← Members</a></p><h1>${esc(m.name)}</h1>
  <div class="grid">
    <div class="card"><dl class="metric"><dt>Available points</dt><dd data-testid="available">${m.points_available}</dd></dl></div>
    <div class="card"><dl class="metric"><dt>Pending points</dt><dd data-testid="pending">${m.points_pending}</dd></dl></div>
    <div class="card"><dl class="metric"><dt>Tier</dt><dd>${dash(m.tier)}</dd></dl><span class="muted">since ${date(m.tier_since)}</span></div>
    <div class="card"><dl class="metric"><dt>Lifetime spent</dt><dd>${money(m.lifetime_spent)}</dd></dl><span class="muted">${m.orders_count} orders</span></div>
  </div>
  <div class="card"><h2>Adjust points</h2><form class="stack" id="adjust">
    <label>Points (negative to remove)<input name="points" type="number" data-type="int" required></label>
    <label>Reason <span class="hint">(required, kept in the audit log)</span><input name="reason" required maxlength="255"></label>
    <label>Note to the shopper <span class="hint">(optional, shown in their history)</span><textarea name="note" maxlength="1000"></textarea></label>
    <div><button class="primary" type="submit">Adjust</button></div></form></div>
  <div class="card"><h2>Points history</h2><table><thead><tr><th scope="col">Date</th><th scope="col">What</th><th class="num" scope="col">Points</th><th scope="col">Status</th><th scope="col">Reason / note</th></tr></thead><tbody id="ledger">
    ${m.ledger.map((e) => `<tr><td title="recorded ${date(e.created_at)}">${date(e.occurred_at || e.created_at)}</td><td>${esc(e.kind.replace(/_/g, " "))}</td><td class="num ${e.points < 0 ? "neg" : "pos"}">${e.points > 0 ? "+" : ""}${e.points}</td><td>${esc(e.status)}</td><td>${dash(e.reason)}${e.note ? `<br><span class="muted">“${esc(e.note)}”</span>` : ""}</td></tr>`).join("") || `<tr><td colspan="5">No entries yet.</td></tr>`}</tbody></table></div>
  <div class="card"><h2>Tier history</h2><ul>${m.tier_changes.map((c) => `<li>${date(c.occurred_at || c.created_at)}: ${dash(c.from)} → ${dash(c.to)} (${esc(c.reason)})</li>`).join("") || "<li>No changes yet.</li>"}</ul></div>
  <div class="card"><h2>Rewards and codes</h2><table><thead><tr><th scope="col">Code</th><th scope="col">Reward</th><th class="num" scope="col">Points</th><th scope="col">Status</th><th scope="col">Expires</th></tr></thead><tbody>
    ${m.codes.map((c) => `<tr><td><code>${esc(c.code)}</code></td><td>${esc(c.reward)}</td><td class="num">${c.points}</td><td>${esc(c.status)}</td><td>${date(c.expires_at)}</td></tr>`).join("") || `<tr><td colspan="5">No rewards redeemed yet.</td></tr>`}</tbody></table></div>
  <div class="card"><h2>Referrals</h2><p>Referral code: <code>${dash(m.referral_code)}</code></p><ul>${m.referrals.map((r) => `<li>${esc(r.friend_email || r.friend_code)}: <span class="badge">${esc(r.status)}</span></li>`).join("") || "<li>No referrals yet.</li>"}</ul></div>`;
  const form = document.getElementById("adjust");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const path = `/api/admin/members/${encodeURIComponent(customerId)}/adjustments`;
    const data = { ...formData(form), idempotency_key: crypto.randomUUID() };
    // Taking the balance below zero needs the merchant's say-so (the API refuses it without allow_negative).
    const ask = (detail) => confirm(`This takes ${m.name}'s balance below zero (${detail}). Adjust anyway?`);
    try {
      if (data.points < 0 && m.points_available + data.points < 0) {
        if (!ask(`to ${m.points_available + data.points} points`)) return;
        data.allow_negative = true;
      }
      try {
        await send(path, "POST", data);
      } catch (err) {
        // The balance changed since the page was drawn: asked now, then sent again with the say-so.
        if (err.code !== "negative_balance" || !ask(err.fields.points || "the balance changed")) throw err;
        await send(path, "POST", { ...data, allow_negative: true });
      }
      toast("Points adjusted");
      await member(customerId);
    } catch (err) { showErrors(form, err); }
  });
}

// --- program -------------------------------------------------------------------------------------
const SETTING_LABELS = {
  enabled: "Program on", points_per_currency_unit: "Points per 1 unit of currency", point_value: "Value of 1 point (money)",
  include_shipping: "Shipping earns points", include_taxes: "Taxes earn points", allow_test_orders: "Test orders earn points",
  pending_days: "Pending days", reversal_policy: "When a refund takes back more than the balance", signup_points: "Sign-up bonus",
  birthday_points: "Birthday points", anniversary_points: "Anniversary points (0 = off)", tier_metric: "Tiers are reached by",
  tier_window: "Tier window", downgrade_grace_days: "Days of grace before a downgrade", code_expiry_days: "Reward codes expire after (days)",
  refund_expired_codes: "Give points back for unused expired codes", referral_friend_discount: "Friend's discount",
  referral_advocate_points: "Advocate's points", referral_monthly_limit: "Referrals per advocate per month before review",
  expiry_mode: "Points expiry", expiry_days: "Expire after days without activity", expiry_reminder_days: "Reminders (days before, comma-separated)",
};
const CHOICES = { reversal_policy: ["allow_negative", "cap_at_zero"], tier_metric: ["points_earned", "amount_spent", "orders"],
  tier_window: ["lifetime", "rolling_12_months", "calendar_year"], expiry_mode: ["none", "inactivity"] };
function settingField(k, v) {
  const label = esc(SETTING_LABELS[k] || k);
  if (typeof v === "boolean") return `<label><span><input type="checkbox" name="${k}" ${v ? "checked" : ""}> ${label}</span></label>`;
  if (CHOICES[k]) return `<label>${label}<select name="${k}">${CHOICES[k].map((c) => `<option ${c === v ? "selected" : ""}>${c}</option>`).join("")}</select></label>`;
  if (Array.isArray(v)) return `<label>${label}<input name="${k}" data-type="list" value="${esc(v.join(", "))}"></label>`;
  if (typeof v === "number") return `<label>${label}<input name="${k}" type="number" data-type="int" value="${v}"></label>`;
  return `<label>${label}<input name="${k}" inputmode="decimal" value="${esc(v)}"></label>`;
}
function tierRow(t, i) {
  return `<tr data-id="${t.id ?? ""}"><td><input aria-label="Tier ${i + 1} name" name="${i}.name" value="${esc(t.name)}"></td>
    <td><input aria-label="Tier ${i + 1} threshold" name="${i}.threshold" inputmode="decimal" value="${esc(t.threshold)}"></td>
    <td><input aria-label="Tier ${i + 1} multiplier" name="${i}.multiplier" inputmode="decimal" value="${esc(t.multiplier)}"></td>
    <td><input aria-label="Tier ${i + 1} entry bonus" name="${i}.entry_bonus" type="number" value="${esc(t.entry_bonus)}"></td>
    <td><button type="button" class="critical" data-remove>Remove</button></td></tr>`;
}
async function program() {
  const p = await api("/api/admin/program");
  const s = p.settings;
  main.innerHTML = `<h1>Program</h1>
  <div class="card"><h2>Settings</h2><form class="stack" id="settings">${Object.entries(s).map(([k, v]) => settingField(k, v)).join("")}
    <div><button class="primary" type="submit">Save settings</button></div></form></div>
  <div class="card"><h2>VIP tiers</h2><p class="muted">Thresholds are in ${esc(s.tier_metric.replace(/_/g, " "))}. Preview shows how many members move before anything is saved.</p>
    <form id="tiers"><table><thead><tr><th scope="col">Name</th><th scope="col">Threshold</th><th scope="col">Multiplier</th><th scope="col">Entry bonus</th><th scope="col"></th></tr></thead>
    <tbody>${p.tiers.map(tierRow).join("")}</tbody></table>
    <div class="row"><button type="button" id="add-tier">Add tier</button><button type="button" id="preview-tiers">Preview changes</button><button class="primary" type="submit" id="save-tiers">Save tiers</button></div>
    <div id="what-if" aria-live="polite"></div></form></div>
  <div class="card"><h2>Rewards</h2><table><thead><tr><th scope="col">Reward</th><th scope="col">Type</th><th class="num" scope="col">Points</th><th class="num" scope="col">Value</th><th scope="col"></th></tr></thead><tbody>
    ${p.rewards.map((r) => `<tr><td>${esc(r.name)}</td><td>${esc(r.type)}</td><td class="num">${r.points_cost}</td><td class="num">${esc(r.value)}</td><td><button type="button" class="critical" data-del-reward="${r.id}">Delete</button></td></tr>`).join("")}</tbody></table>
    <form class="row" id="reward"><label>Name<input name="name" required></label><label>Type<select name="type">${["fixed_amount", "percentage", "free_shipping", "free_product", "variable"].map((t) => `<option>${t}</option>`).join("")}</select></label>
      <label>Points<input name="points_cost" type="number" data-type="int" required></label><label>Value<input name="value" inputmode="decimal" value="0"></label>
      <label>Minimum subtotal<input name="minimum_subtotal" inputmode="decimal" value="0"></label><button type="submit">Add reward</button></form></div>
  <div class="card"><h2>Custom actions</h2><p>Other apps award these by calling <code>POST ${esc(p.action_endpoint)}</code> signed with HMAC-SHA256 of the raw body in <code>X-Regulars-Hmac-Sha256</code>, using this secret:</p>
    <p><code class="secret" data-testid="action-secret">${esc(p.action_secret)}</code></p>
    <ul>${p.custom_actions.map((a) => `<li><strong>${esc(a.name)}</strong> (<code>${esc(a.key)}</code>): ${a.points} points, ${esc(a.limit)}${a.honour_system ? ", claimable in the widget" : ""}</li>`).join("") || "<li>None yet.</li>"}</ul>
    <form class="row" id="action"><label>Key<input name="key" required pattern="[a-z0-9_]+"></label><label>Name<input name="name" required></label><label>Points<input name="points" type="number" data-type="int" required></label>
      <label>Limit<select name="limit"><option>once</option><option>per_day</option><option>per_month</option><option>unlimited</option></select></label>
      <label><span><input type="checkbox" name="honour_system"> Shopper can claim it</span></label><button type="submit">Add action</button></form></div>
  <div class="card"><h2>Campaigns</h2><ul>${p.campaigns.map((c) => `<li><strong>${esc(c.name)}</strong>: ${esc(c.kind)} ${esc(c.value)}, ${date(c.starts_at)} – ${date(c.ends_at)}${c.holdout_percent ? `, ${c.holdout_percent}% holdout` : ""}</li>`).join("") || "<li>None yet.</li>"}</ul>
    <form class="row" id="campaign"><label>Name<input name="name" required></label><label>Kind<select name="kind"><option>multiplier</option><option>bonus</option></select></label>
      <label>Value<input name="value" inputmode="decimal" required></label><label>Starts<input name="starts_at" type="datetime-local" required></label><label>Ends<input name="ends_at" type="datetime-local" required></label>
      <label>Holdout %<input name="holdout_percent" type="number" data-type="int" value="0"></label><button type="submit">Add campaign</button></form></div>`;
  const bind = (id, fn) => document.getElementById(id).addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await fn(e.target); toast("Saved"); await program(); } catch (err) { showErrors(e.target, err); }
  });
  bind("settings", (f) => send("/api/admin/settings", "PATCH", formData(f)));
  bind("reward", (f) => send("/api/admin/rewards", "POST", formData(f)));
  bind("action", (f) => send("/api/admin/custom-actions", "POST", formData(f)));
  bind("campaign", (f) => { const d = formData(f); d.starts_at = new Date(d.starts_at).toISOString(); d.ends_at = new Date(d.ends_at).toISOString(); return send("/api/admin/campaigns", "POST", d); });
  bind("tiers", (f) => send("/api/admin/tiers", "PUT", { tiers: tiersOf(f) }));
  const tiersForm = document.getElementById("tiers");
  tiersForm.addEventListener("click", (e) => { if (e.target.matches("[data-remove]")) e.target.closest("tr").remove(); });
  document.getElementById("add-tier").addEventListener("click", () => {
    const body = tiersForm.querySelector("tbody");
    body.insertAdjacentHTML("beforeend", tierRow({ name: "", threshold: "", multiplier: "1", entry_bonus: 0 }, body.rows.length));
  });
  document.getElementById("preview-tiers").addEventListener("click", async () => {
    const out = document.getElementById("what-if");
    try {
      const w = await send("/api/admin/tiers/preview", "POST", { tiers: tiersOf(tiersForm) });
      out.innerHTML = `<p class="banner" data-testid="what-if">If you save: <strong>${w.moves_up}</strong> members move up, <strong>${w.moves_down}</strong> move down, ${w.unchanged} stay where they are.</p>`;
    } catch (err) { showErrors(tiersForm, err); }
  });
  main.querySelectorAll("[data-del-reward]").forEach((b) => b.addEventListener("click", async () => {
    if (!confirm("Delete this reward?")) return;
    await api(`/api/admin/rewards/${b.dataset.delReward}`, { method: "DELETE" });
    await program();
  }));
}
function tiersOf(form) {
  return [...form.querySelectorAll("tbody tr")].map((tr, i) => {
    const v = (n) => tr.querySelector(`[name$=".${n}"]`).value;
    return { id: tr.dataset.id ? Number(tr.dataset.id) : null, name: v("name"), threshold: v("threshold"), multiplier: v("multiplier"), entry_bonus: Number(v("entry_bonus") || 0) };
  });
}

// --- referrals, keys, audit ----------------------------------------------------------------------
async function referrals() {
  const [queue, all] = await Promise.all([api("/api/admin/referrals?status=review"), api("/api/admin/referrals")]);
  const row = (r, actions) => `<tr><td>${esc(r.advocate)}</td><td>${esc(r.friend_email || "—")}</td><td><span class="badge">${esc(r.status)}</span></td>
    <td>${(r.signals || []).map((s) => esc(s.name || s.signal || s.code || JSON.stringify(s))).join(", ") || "—"}</td><td>${date(r.created_at)}</td>
    <td>${actions ? `<button type="button" data-decide="approve" data-id="${r.id}">Approve</button> <button type="button" class="critical" data-decide="reject" data-id="${r.id}">Reject</button>` : ""}</td></tr>`;
  const head = `<thead><tr><th scope="col">Advocate</th><th scope="col">Friend</th><th scope="col">Status</th><th scope="col">Signals</th><th scope="col">Created</th><th scope="col"></th></tr></thead>`;
  main.innerHTML = `<h1>Referrals</h1><div class="card"><h2>Review queue <span class="badge">${queue.referrals.length}</span></h2>
    <table>${head}<tbody>${queue.referrals.map((r) => row(r, true)).join("") || `<tr><td colspan="6">Nothing to review.</td></tr>`}</tbody></table></div>
    <div class="card"><h2>All referrals</h2><table>${head}<tbody>${all.referrals.map((r) => row(r, false)).join("") || `<tr><td colspan="6">No referrals yet.</td></tr>`}</tbody></table></div>`;
  main.querySelectorAll("[data-decide]").forEach((b) => b.addEventListener("click", async () => {
    try { await send(`/api/admin/referrals/${b.dataset.id}/${b.dataset.decide}`, "POST"); toast("Done"); } catch (err) { toast(err.message); }
    await referrals();
  }));
}
async function keys() {
  const data = await api("/api/admin/api-keys");
  main.innerHTML = `<h1>API keys</h1><div id="new-key"></div><div class="card"><p>Keys let your developers use the public API v1 (header <code>X-Regulars-Api-Key</code>). A key is shown once; Regulars keeps only its hash.</p>
    <form class="row" id="key-form"><label>Name<input name="name" required maxlength="128"></label><button class="primary" type="submit">Create key</button></form></div>
    <div class="card"><table><thead><tr><th scope="col">Name</th><th scope="col">Starts with</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Status</th><th scope="col"></th></tr></thead><tbody>
    ${data.keys.map((k) => `<tr><td>${esc(k.name)}</td><td><code>${esc(k.prefix)}…</code></td><td>${date(k.created_at)}</td><td>${date(k.last_used_at)}</td><td>${k.revoked_at ? "Revoked" : "Active"}</td>
      <td>${k.revoked_at ? "" : `<button type="button" class="critical" data-revoke="${k.id}">Revoke</button>`}</td></tr>`).join("") || `<tr><td colspan="6">No keys yet.</td></tr>`}</tbody></table></div>`;
  document.getElementById("key-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const k = await send("/api/admin/api-keys", "POST", formData(e.target));
      await keys();
      document.getElementById("new-key").innerHTML = `<div class="banner ok" role="status">Copy this key now, it will not be shown again: <code class="secret" data-testid="new-key">${esc(k.key)}</code></div>`;
    } catch (err) { showErrors(e.target, err); }
  });
  main.querySelectorAll("[data-revoke]").forEach((b) => b.addEventListener("click", async () => {
    if (!confirm("Revoke this key? Apps using it stop working at once.")) return;
    await api(`/api/admin/api-keys/${b.dataset.revoke}`, { method: "DELETE" });
    await keys();
  }));
}
async function audit() {
  const data = await api("/api/admin/audit");
  main.innerHTML = `<h1>Audit log</h1><div class="card"><table><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">On</th><th scope="col">Details</th></tr></thead><tbody>
    ${data.entries.map((a) => `<tr><td>${esc(a.created_at.replace("T", " ").slice(0, 19))}</td><td>${esc(a.actor)}</td><td>${esc(a.action.replace(/[._]/g, " "))}</td><td>${esc(a.target_type || "")} ${esc(a.target_id || "")}</td><td><code>${esc(JSON.stringify(a.details || {}))}</code></td></tr>`).join("") || `<tr><td colspan="5">Nothing yet.</td></tr>`}</tbody></table></div>`;
}
