// Automations page: the flows with their state and holdout-measured figures, a flow editor in the merchant's
// words, where events go (Flow, Klaviyo, webhook endpoints) and the delivery log with replay. It works only
// through the public API v1 (the routes merchants' developers use), with the page's session token.

const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);
const pts = (v) => (v === null || v === undefined ? "—" : `${v >= 0 ? "+" : "−"}${Math.abs(v * 100).toFixed(1)} pts`);

function liftCell(s, esc) {
  if (s.lift === null || s.lift === undefined) return `<span class="muted">not enough data</span>`;
  const [lo, hi] = s.lift_ci || [];
  const sure = lo > 0 ? "pos" : hi < 0 ? "neg" : "";
  const title = `95 % confidence interval: ${pts(lo)} to ${pts(hi)}`;
  return `<span class="${sure}" title="${esc(title)}">${pts(s.lift)}</span><br><span class="hint">${pts(lo)} to ${pts(hi)}</span>`;
}

// A step's name in words (its key is for the API): "day_7" → "Day 7", "days_30" → "30 days before".
export function stepName(key) {
  const k = String(key ?? "");
  let m = k.match(/^day_(\d+)$/);
  if (m) return `Day ${m[1]}`;
  m = k.match(/^days_(\d+)$/);
  if (m) return `${m[1]} days before`;
  const named = { tier_up: "Moved up", tier_down: "Moved down", check_in: "Check-in", social_proof: "Social proof", final_offer: "Final offer" };
  if (named[k]) return named[k];
  const words = k.replace(/[._]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : "";
}

function timing(step) {
  if (step.after_hours !== undefined && step.after_hours !== null && !step.after_days) {
    return step.after_hours === 0 ? "right away" : `after ${step.after_hours} hours`;
  }
  const d = step.after_days ?? 0;
  if (d < 0) return `${-d} days before`;
  return d === 0 ? "on the day" : `after ${d} days`;
}

function incentiveText(inc, rewards, esc) {
  if (!inc) return "no incentive";
  if (inc.type === "points") return `${inc.points} bonus points`;
  const r = rewards.find((x) => String(x.id) === String(inc.reward_id));
  return `a one-use code: ${esc(r ? r.name : `reward ${inc.reward_id}`)}${inc.expiry_days ? `, valid ${inc.expiry_days} days` : ""}`;
}

export async function automations(main, ui, arg) {
  const { api, send, esc, toast, showErrors, money } = ui;
  const [list, program] = await Promise.all([api("/api/v1/automations"), api("/api/v1/program")]);
  const rewards = (program.rewards || []).filter((r) => ["fixed_amount", "percentage", "free_shipping", "free_product"].includes(r.type));
  if (arg) return editor(main, ui, list.automations.find((a) => a.key === arg), rewards);
  const results = await Promise.all(list.automations.map((a) => api(`/api/v1/automations/${a.key}/results`)));
  const rows = list.automations.map((a, i) => {
    const steps = results[i].steps;
    const sum = (k) => steps.reduce((n, s) => n + (Number(s[k]) || 0), 0);
    return `<tr data-flow="${esc(a.key)}"><th scope="row"><a href="${ui.link(`automations/${esc(a.key)}`)}">${esc(a.name)}</a><br><span class="hint">${esc(a.description || "")}</span></th>
      <td><span class="badge">${a.enabled ? "On" : "Off"}</span></td><td class="num">${a.holdout_percent} %</td>
      <td class="num">${sum("entered")}</td><td class="num">${sum("fired")}</td><td class="num">${sum("converted")}</td>
      <td class="num">${sum("holdout_converted")} / ${sum("holdout_entered")}</td>
      <td>${steps.map((s) => `<div><span class="hint">${esc(stepName(s.key))}:</span> ${liftCell(s, esc)}</div>`).join("")}</td></tr>`;
  }).join("");
  main.innerHTML = `<s-page heading="Automations" inlineSize="large">
    <p class="muted">Each flow keeps a holdout: members chosen at random who get nothing, so the lift you see is what the flow caused, not who would have come back anyway.</p>
    <div class="card"><table><caption class="hint" style="text-align:left">Lift = conversion of members who got the step − conversion of the holdout, within the flow's window, with a 95 % interval. Green: the interval is above zero.</caption>
    <thead><tr><th scope="col">Flow</th><th scope="col">State</th><th scope="col" class="num">Holdout</th><th scope="col" class="num">Entered</th><th scope="col" class="num">Got it</th><th scope="col" class="num">Converted</th><th scope="col" class="num">Holdout converted</th><th scope="col">Lift by step</th></tr></thead>
    <tbody>${rows}</tbody></table></div>
    <div id="campaigns"></div><div id="destinations"></div><div id="deliveries"></div></s-page>`;
  // Top to bottom, each section drawn once the one above it is: content only ever arrives below (no layout shift).
  await campaigns(ui);
  await destinations(ui);
  await deliveries(ui);
}

async function campaigns(ui) {
  const { api, esc } = ui;
  const data = await api("/api/v1/campaigns/results");
  const el = document.getElementById("campaigns");
  if (!data.campaigns.length) return (el.innerHTML = "");
  el.innerHTML = `<div class="card"><h2>Campaigns against their holdout</h2><table><thead><tr><th scope="col">Campaign</th><th scope="col" class="num">Holdout</th>
    <th scope="col" class="num">Members</th><th scope="col" class="num">Ordered</th><th scope="col" class="num">Holdout ordered</th><th scope="col">Lift</th></tr></thead><tbody>
    ${data.campaigns.map((c) => `<tr><td>${esc(c.name)}</td><td class="num">${c.holdout_percent} %</td><td class="num">${c.members}</td>
      <td class="num">${c.converted} (${pct(c.conversion_rate)})</td><td class="num">${c.holdout_converted} / ${c.holdout_entered} (${pct(c.holdout_conversion_rate)})</td><td>${liftCell(c, esc)}</td></tr>`).join("")}
    </tbody></table></div>`;
}

async function destinations(ui) {
  const { api, send, esc, toast, showErrors } = ui;
  const [integ, eps] = await Promise.all([api("/api/v1/integrations"), api("/api/v1/webhook-endpoints")]);
  const el = document.getElementById("destinations");
  el.innerHTML = `<div class="card"><h2>Where events go</h2>
    <form id="integrations" class="stack">
      <label><span><input type="checkbox" name="flow" ${integ.flow.enabled ? "checked" : ""}> Send every trigger to Shopify Flow</span>
        <span class="hint">Off: only the triggers a Flow workflow of yours uses (${esc(integ.flow.triggers_in_use.join(", ") || "none yet")}).</span></label>
      <label>Klaviyo private API key <input name="klaviyo_key" autocomplete="off" placeholder="${integ.klaviyo.key_set ? `set (${esc(integ.klaviyo.key_hint)})` : "pk_…"}">
        <span class="hint">Members' points, tier and referral link go to their Klaviyo profiles, and loyalty events to Klaviyo metrics.</span></label>
      <label><span><input type="checkbox" name="klaviyo" ${integ.klaviyo.enabled ? "checked" : ""}> Send to Klaviyo</span></label>
      <div><button class="primary" type="submit">Save</button></div></form>
    <h2 style="margin-top:1rem">Webhook endpoints</h2><div id="new-secret"></div>
    <table><thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col"></th></tr></thead><tbody>
    ${eps.webhook_endpoints.map((e) => `<tr><td><code>${esc(e.url)}</code></td><td>${esc(e.events.join(", ") || "all")}</td>
      <td><button type="button" class="critical" data-del-endpoint="${esc(e.id)}">Remove</button></td></tr>`).join("") || `<tr><td colspan="3">None yet.</td></tr>`}
    </tbody></table>
    <form id="endpoint-form" class="row" style="margin-top:.75rem"><label>URL<input name="url" type="url" required placeholder="https://example.com/regulars" size="40"></label>
      <button type="submit">Add endpoint</button></form></div>`;
  document.getElementById("integrations").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target;
    const body = { flow: { enabled: f.flow.checked }, klaviyo: { enabled: f.klaviyo.checked } };
    if (f.klaviyo_key.value.trim()) body.klaviyo.private_key = f.klaviyo_key.value.trim();
    try { await send("/api/v1/integrations", "PATCH", body); toast("Saved"); await destinations(ui); } catch (err) { showErrors(f, err); }
  });
  document.getElementById("endpoint-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const ep = await send("/api/v1/webhook-endpoints", "POST", { url: e.target.url.value.trim() });
      await destinations(ui);
      document.getElementById("new-secret").innerHTML = `<div class="banner ok" role="status">Copy the signing secret now, it will not be shown again: <code class="secret" data-testid="endpoint-secret">${esc(ep.secret)}</code></div>`;
    } catch (err) { showErrors(e.target, err); }
  });
  el.querySelectorAll("[data-del-endpoint]").forEach((b) => b.addEventListener("click", async () => {
    if (!(await ui.ask({ title: "Remove this endpoint?", text: "It stops receiving events at once.", yes: "Remove", critical: true }))) return;
    await api(`/api/v1/webhook-endpoints/${b.dataset.delEndpoint}`, { method: "DELETE" });
    await destinations(ui);
  }));
}

async function deliveries(ui, status = "") {
  const { api, send, esc, toast } = ui;
  const data = await api(`/api/v1/event-deliveries?limit=50${status ? `&status=${status}` : ""}`);
  const el = document.getElementById("deliveries");
  const counts = Object.entries(data.counts).map(([dest, c]) =>
    `<li><strong>${esc(dest)}</strong>: ${Object.entries(c).map(([s, n]) => `${esc(s)} ${n}`).join(", ")}</li>`).join("");
  el.innerHTML = `<div class="card"><h2>Delivery log</h2><ul class="muted">${counts || "<li>Nothing sent yet.</li>"}</ul>
    <div class="row"><label>Show<select id="delivery-status">${["", "dead", "pending", "delivered", "skipped"].map((s) =>
      `<option value="${s}" ${s === status ? "selected" : ""}>${s || "all"}</option>`).join("")}</select></label>
      <button type="button" id="replay-dead">Replay all dead</button></div>
    <table><thead><tr><th scope="col">When</th><th scope="col">Destination</th><th scope="col">Event</th><th scope="col">Customer</th><th scope="col">Status</th><th scope="col">Last error</th><th scope="col"></th></tr></thead><tbody>
    ${data.deliveries.map((d) => `<tr><td>${esc(d.created_at.replace("T", " ").slice(0, 19))}</td><td>${esc(d.destination)}</td><td>${esc(d.event_type)} <span class="hint">#${esc(d.event_id)}</span></td>
      <td>${esc(d.customer_id || "")}</td><td><span class="badge">${esc(d.status)}</span> <span class="hint">${d.attempts} tries</span></td><td class="hint">${esc(d.last_error || "")}</td>
      <td>${["dead", "skipped"].includes(d.status) ? `<button type="button" data-replay="${esc(d.id)}">Replay</button>` : ""}</td></tr>`).join("") || `<tr><td colspan="7">Nothing here.</td></tr>`}
    </tbody></table></div>`;
  document.getElementById("delivery-status").addEventListener("change", (e) => deliveries(ui, e.target.value));
  document.getElementById("replay-dead").addEventListener("click", async () => {
    try { const r = await send("/api/v1/event-deliveries/replay", "POST", { status: "dead" }); toast(`${r.replayed} back in line`); } catch (err) { toast(err.message); }
    await deliveries(ui, status);
  });
  el.querySelectorAll("[data-replay]").forEach((b) => b.addEventListener("click", async () => {
    try { await send(`/api/v1/event-deliveries/${b.dataset.replay}/replay`, "POST", {}); toast("Back in line"); } catch (err) { toast(err.message); }
    await deliveries(ui, status);
  }));
}

function incentiveFields(prefix, inc, rewards, esc) {
  const type = inc ? inc.type : "";
  return `<select name="${prefix}_type" aria-label="Incentive">
      <option value="" ${!type ? "selected" : ""}>no incentive</option>
      <option value="points" ${type === "points" ? "selected" : ""}>bonus points</option>
      ${rewards.length ? `<option value="reward" ${type === "reward" ? "selected" : ""}>a one-use reward code</option>` : ""}</select>
    <span data-show="points" ${type === "points" ? "" : "hidden"}><input name="${prefix}_points" type="number" min="1" aria-label="Bonus points" placeholder="points" value="${inc && inc.type === "points" ? inc.points : ""}" style="width:7rem"> points</span>
    <span data-show="reward" ${type === "reward" ? "" : "hidden"}><select name="${prefix}_reward" aria-label="Reward">${rewards.map((r) => `<option value="${r.id}" ${inc && String(inc.reward_id) === String(r.id) ? "selected" : ""}>${esc(r.name)}</option>`).join("")}</select>
    valid for <input name="${prefix}_expiry" type="number" min="1" max="365" aria-label="Code valid for days" placeholder="days" value="${inc && inc.expiry_days ? inc.expiry_days : ""}" style="width:6rem"> days</span>`;
}

function readIncentive(form, prefix) {
  const type = form[`${prefix}_type`].value;
  if (!type) return null;
  if (type === "points") return { type, points: Number(form[`${prefix}_points`].value) };
  const out = { type, reward_id: Number(form[`${prefix}_reward`].value) };
  if (form[`${prefix}_expiry`].value) out.expiry_days = Number(form[`${prefix}_expiry`].value);
  return out;
}

async function editor(main, ui, a, rewards) {
  const { api, send, esc, toast, showErrors } = ui;
  if (!a) return ui.go("automations");
  const results = await api(`/api/v1/automations/${a.key}/results`);
  const byKey = Object.fromEntries(results.steps.map((s) => [s.key, s]));
  const fixed = a.key === "points_expiring";
  const steps = a.steps.map((s, i) => `<fieldset class="card" data-step="${esc(s.key)}"><legend><strong>Step ${i + 1}</strong>: ${esc(s.message || stepName(s.key))}</legend>
      <div class="row">${fixed || s.condition ? `<span>${esc(timing(s))}${s.condition ? ` (tier ${esc(s.condition)})` : ""}</span>` : `
        <label>Send it after<input name="s${i}_amount" type="number" min="0" value="${s.after_hours !== undefined && !s.after_days ? s.after_hours : (s.after_days ?? 0)}" style="width:6rem"></label>
        <label>unit<select name="s${i}_unit"><option value="days" ${s.after_hours !== undefined && !s.after_days ? "" : "selected"}>days</option><option value="hours" ${s.after_hours !== undefined && !s.after_days ? "selected" : ""}>hours</option></select></label>`}
      </div>
      <div class="row" style="margin-top:.5rem"><span>Give</span>${incentiveFields(`s${i}_a`, s.incentive, rewards, esc)}</div>
      <details ${s.incentive_b ? "open" : ""}><summary>A/B test a second incentive level</summary>
        <div class="row"><span>Half the members get instead</span>${incentiveFields(`s${i}_b`, s.incentive_b, rewards, esc)}</div></details>
      <p class="hint">Last results: ${byKey[s.key] ? `${byKey[s.key].fired} got it, ${byKey[s.key].converted} ordered; holdout ${byKey[s.key].holdout_converted} of ${byKey[s.key].holdout_entered}; lift ${pts(byKey[s.key].lift)}; incentives cost ${esc(byKey[s.key].incentive_cost)}` : "none yet"}.
        Currently: ${esc(timing(s))}, ${incentiveText(s.incentive, rewards, esc)}.</p></fieldset>`).join("");
  main.innerHTML = `<s-page heading="${esc(a.name)}"><s-link slot="breadcrumb-actions" href="${ui.link("automations")}">Automations</s-link><p class="muted">${esc(a.description || "")} An order takes a member out of the flow.</p>
    <form id="flow-form" class="stack" style="max-width:none">
      <label><span><input type="checkbox" name="enabled" ${a.enabled ? "checked" : ""}> Turn this flow on</span></label>
      <div class="row"><label>Keep out as a holdout (%)<input name="holdout_percent" type="number" min="0" max="50" value="${a.holdout_percent}" style="width:6rem">
        <span class="hint">They get no message and no incentive; chosen by a stable draw, editing never reshuffles them.</span></label>
        <label>Count an order as converted within (days)<input name="window_days" type="number" min="1" max="90" value="${a.window_days}" style="width:6rem"></label></div>
      ${steps}
      <div><button class="primary" type="submit">Save</button></div></form></s-page>`;
  // Show only the inputs of the chosen incentive.
  main.querySelectorAll('select[name$="_type"]').forEach((sel) => sel.addEventListener("change", () => {
    sel.parentElement.querySelectorAll("[data-show]").forEach((el) => { el.hidden = el.dataset.show !== sel.value; });
  }));
  document.getElementById("flow-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target;
    const body = { enabled: f.enabled.checked, holdout_percent: Number(f.holdout_percent.value), window_days: Number(f.window_days.value) };
    body.steps = a.steps.map((s, i) => {
      const step = { key: s.key, incentive: readIncentive(f, `s${i}_a`) };
      const b = readIncentive(f, `s${i}_b`);
      step.incentive_b = b;
      if (!fixed && !s.condition) {
        const n = Number(f[`s${i}_amount`].value);
        if (f[`s${i}_unit`].value === "hours") { step.after_hours = n; step.after_days = null; } else { step.after_days = n; step.after_hours = null; }
      }
      return step;
    });
    try { await send(`/api/v1/automations/${a.key}`, "PATCH", body); toast("Saved"); ui.go("automations"); } catch (err) { showErrors(f, err); }
  });
}
