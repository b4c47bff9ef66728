// The consumer portal (README "Consumer portal"): an end customer manages their webhooks with the
// short-lived token of a portal link, nothing else.
//
// Plain JavaScript, no framework and no build step: the page is a handful of forms and tables,
// and a framework would add a download (or a vendored bundle) and a build for no feature the
// customer sees. Served from the API's own origin with a Content-Security-Policy that allows
// scripts from 'self' only, so no inline script runs.
//
// Safety rules every line below follows:
// - every string from the API reaches the page through textContent or an attribute, never HTML;
// - the token comes from the URL fragment (which browsers never send to a server, so it stays out
//   of access logs), travels only as `Authorization: Bearer` to this origin, and is written to
//   localStorage only when the customer ticks "Remember";
// - a 401 means the link expired or was revoked: the page says so and stops calling the API.

const STORAGE_KEY = "webhooks-portal-token";
const STATUSES = ["queued", "retrying", "succeeded", "failed", "skipped"];
const WINDOWS = ["1h", "24h", "7d"];

const state = { token: null, view: "webhooks", webhook: null, delivery: null };

// ---------------------------------------------------------------- DOM helpers

/** An element; string children become text nodes (never parsed as HTML). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

let fieldCounter = 0;

/** A labelled control: <label for> + the control, so every input has an accessible name. */
function field(label, control, hint) {
  fieldCounter += 1;
  const id = control.id || `field-${fieldCounter}`;
  control.id = id;
  const parts = [h("label", { for: id }, label), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("small", { id: hintId, class: "hint" }, hint));
  }
  return h("div", { class: "field" }, parts);
}

function show(...nodes) {
  const view = document.getElementById("view");
  view.replaceChildren(...nodes);
  const heading = view.querySelector("h2");
  (heading || view).setAttribute("tabindex", "-1");
  (heading || view).focus();
}

function notice(text) {
  document.getElementById("notice").textContent = text;
}

function showError(text) {
  document.getElementById("error").textContent = text;
}

function clearMessages() {
  notice("");
  showError("");
}

function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    const details = (error.details || [])
      .map((d) => (d && d.field ? `${d.field}: ${d.message}` : JSON.stringify(d)))
      .join("; ");
    super(`${error.message || `request failed (${status})`}${details ? ` (${details})` : ""}`);
    this.status = status;
  }
}

class SessionEnded extends Error {}

let inFlight = 0;

/** `aria-busy` on the main region while any request is out, for assistive technology (and for
 * the browser tests, which wait for it instead of guessing at network idleness). */
function busy(delta) {
  inFlight += delta;
  document.getElementById("view").setAttribute("aria-busy", String(inFlight > 0));
}

async function api(method, path, body) {
  busy(1);
  try {
    return await request(method, path, body);
  } finally {
    busy(-1);
  }
}

async function request(method, path, body) {
  const options = { method, headers: { Authorization: `Bearer ${state.token}` } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (response.status === 401) throw new SessionEnded();
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

/** Runs an action; shows its error as text; ends the session on a 401. A background load
 * (`quiet`) leaves the messages of the action that started it in place. */
async function attempt(action, quiet = false) {
  if (!quiet) clearMessages();
  try {
    return await action();
  } catch (error) {
    if (error instanceof SessionEnded) endSession();
    else if (error instanceof ApiError) showError(error.message);
    else showError(`Could not reach the service: ${error.message}`);
    return undefined;
  }
}

/** Keeps only the newest of overlapping loads: a slow answer to an older request (a filter the
 * user has since changed, an earlier press of Refresh) must never replace a newer one. Returns
 * `undefined` for a superseded answer, as `attempt` does for a failed one. */
function newestOnly() {
  let started = 0;
  return async (load) => {
    const mine = ++started;
    const result = await load();
    return mine === started ? result : undefined;
  };
}

const navigation = newestOnly();

/** Sign-out ends the session on the server too, so the link stops working everywhere; true
 * when it did (or the session had already ended). */
async function revokeSession() {
  if (!state.token) return true;
  try {
    await api("DELETE", "/v1/portal/sessions/current");
    return true;
  } catch (error) {
    return error instanceof SessionEnded;
  }
}

function endSession(signedOut = false, revoked = true) {
  localStorage.removeItem(STORAGE_KEY);
  state.token = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("remember").checked = false;
  show(
    h("h2", {}, signedOut ? "Signed out" : "This link has expired"),
    h(
      "p",
      {},
      !signedOut
        ? "Your portal link has expired or is no longer valid. Ask the service you use for a new link."
        : revoked
          ? "Your portal link no longer works. Ask the service you use for a new link to come back."
          : "This page no longer holds your portal link, but the service could not be reached to end it: the link works until it expires.",
    ),
  );
}

// ---------------------------------------------------------------- webhooks

function parseHeaders(text) {
  const headers = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    if (colon < 1) throw new ApiError(0, { error: { message: `header line "${line}" needs "Name: value"` } });
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function webhookForm(webhook, onSubmit) {
  const url = h("input", { type: "url", name: "url", required: true, value: webhook?.url || "" });
  const events = h("input", { type: "text", name: "events", required: true, value: (webhook?.events || ["*"]).join(", ") });
  const filter = h("textarea", { name: "filter", rows: 2 });
  filter.value = webhook?.filter || "";
  const description = h("input", { type: "text", name: "description", value: webhook?.description || "" });
  const headers = h("textarea", { name: "headers", rows: 2 });
  headers.value = Object.entries(webhook?.headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
  const active = h("input", { type: "checkbox", name: "active", checked: webhook ? webhook.active : true });
  const form = h(
    "form",
    { class: "card", novalidate: true },
    field("Endpoint URL", url, "https:// address that receives the events"),
    field("Event types", events, "Comma separated, e.g. order.*, invoice.paid, or * for all"),
    field("Filter (optional)", filter, "JMESPath on the event, e.g. data.amount > `100`"),
    field("Description", description),
    field("Extra headers", headers, 'One per line: "Name: value"'),
    h("div", { class: "field inline" }, h("label", {}, active, " Active")),
    h("button", { type: "submit" }, webhook ? "Save changes" : "Create endpoint"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await attempt(async () => {
      const body = {
        url: url.value.trim(),
        events: events.value.split(",").map((e) => e.trim()).filter(Boolean),
        description: description.value,
        headers: parseHeaders(headers.value),
        active: active.checked,
        filter: filter.value.trim() || null,
      };
      if (!webhook && body.filter === null) delete body.filter;
      await onSubmit(body);
    });
  });
  return form;
}

async function listWebhooks() {
  state.view = "webhooks";
  const page = await navigation(() => attempt(() => api("GET", "/v1/webhooks?limit=100")));
  if (!page) return;
  const rows = page.data.map((webhook) =>
    h(
      "tr",
      {},
      h("td", { class: "wrap" }, webhook.url),
      h("td", {}, webhook.events.join(", ")),
      h("td", {}, webhook.active ? "active" : `disabled${webhook.disabled_reason ? ` (${webhook.disabled_reason})` : ""}`),
      h("td", {}, h("button", { type: "button", onclick: () => openWebhook(webhook.id) }, "Open", h("span", { class: "sr" }, ` ${webhook.url}`))),
    ),
  );
  show(
    h("h2", {}, "Endpoints"),
    rows.length
      ? h(
          "div",
          { class: "scroll" },
          h(
            "table",
            {},
            h("caption", { class: "sr" }, "Your webhook endpoints"),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "URL"), h("th", { scope: "col" }, "Events"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, h("span", { class: "sr" }, "Actions")))),
            h("tbody", {}, rows),
          ),
        )
      : h("p", {}, "No endpoints yet."),
    h("h3", {}, "Add an endpoint"),
    webhookForm(null, async (body) => {
      const created = await api("POST", "/v1/webhooks", body);
      notice("Endpoint created.");
      await openWebhook(created.id, "Endpoint created.");
    }),
  );
}

async function openWebhook(id, message) {
  state.view = "webhook";
  const webhook = await navigation(() => attempt(() => api("GET", `/v1/webhooks/${encodeURIComponent(id)}`)));
  if (!webhook) return;
  state.webhook = webhook;
  const status = webhook.active
    ? "Active"
    : `Disabled${webhook.disabled_reason ? ` (${webhook.disabled_reason})` : ""}${webhook.disabled_at ? ` since ${when(webhook.disabled_at)}` : ""}`;
  show(
    h("p", {}, h("button", { type: "button", class: "link", onclick: listWebhooks }, "← All endpoints")),
    h("h2", { class: "wrap" }, webhook.url),
    h("p", {}, status),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => sendTest(webhook.id) }, "Send test event"),
      h("button", { type: "button", class: "danger", onclick: () => deleteWebhook(webhook) }, "Delete endpoint"),
    ),
    h("h3", {}, "Statistics"),
    statsPanel(webhook.id),
    h("h3", {}, "Deliveries"),
    deliveriesPanel(webhook.id),
    h("h3", {}, "Recover failed and skipped deliveries"),
    recoverForm(webhook.id),
    h("h3", {}, "Settings"),
    webhookForm(webhook, async (body) => {
      await api("PATCH", `/v1/webhooks/${encodeURIComponent(webhook.id)}`, body);
      await openWebhook(webhook.id, "Changes saved.");
    }),
  );
  if (message) notice(message);
}

async function sendTest(id) {
  const sent = await attempt(() => api("POST", `/v1/webhooks/${encodeURIComponent(id)}/test`));
  if (sent) notice(`Test event ${sent.event_id} queued as delivery ${sent.delivery_id}.`);
}

async function deleteWebhook(webhook) {
  if (!window.confirm(`Delete the endpoint ${webhook.url}?`)) return;
  const done = await attempt(async () => {
    await api("DELETE", `/v1/webhooks/${encodeURIComponent(webhook.id)}`);
    return true;
  });
  if (done) {
    await listWebhooks();
    notice("Endpoint deleted.");
  }
}

function statsPanel(id) {
  const windowSelect = h("select", { name: "window" }, WINDOWS.map((w) => h("option", { value: w, selected: w === "24h" }, w)));
  const newest = newestOnly();
  const output = h("dl", { class: "stats" });
  async function load() {
    const stats = await newest(() => attempt(() => api("GET", `/v1/webhooks/${encodeURIComponent(id)}/stats?window=${windowSelect.value}`), true));
    if (!stats) return;
    const rate = stats.success_rate === null ? "—" : `${Math.round(stats.success_rate * 1000) / 10} %`;
    const items = [
      ["Attempts", stats.attempts],
      ["Succeeded", stats.succeeded],
      ["Failed", stats.failed],
      ["Success rate", rate],
      ["Latency p50", stats.p50_ms === null ? "—" : `${stats.p50_ms} ms`],
      ["Latency p95", stats.p95_ms === null ? "—" : `${stats.p95_ms} ms`],
      ["Last success", when(stats.last_success_at)],
      ["Last failure", when(stats.last_failure_at)],
    ];
    output.replaceChildren(...items.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
  }
  windowSelect.addEventListener("change", load);
  load();
  return h("div", { class: "card" }, field("Window", windowSelect), output);
}

function deliveriesPanel(id) {
  const statusSelect = h(
    "select",
    { name: "status" },
    h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s }, s)),
  );
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Show more");
  const refresh = h("button", { type: "button" }, "Refresh deliveries");
  const table = h("table", { class: "deliveries" });
  const newest = newestOnly();
  let cursor = null;
  async function load(append, quiet = true) {
    const query = new URLSearchParams({ limit: "20" });
    if (statusSelect.value) query.set("status", statusSelect.value);
    if (append && cursor) query.set("cursor", cursor);
    const page = await newest(() => attempt(() => api("GET", `/v1/webhooks/${encodeURIComponent(id)}/deliveries?${query}`), quiet));
    if (!page) return;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    const rows = page.data.map((d) =>
      h(
        "tr",
        { "data-status": d.status },
        h("td", {}, when(d.created_at)),
        h("td", { class: "wrap" }, d.event_type),
        h("td", {}, h("span", { class: `badge ${d.status}` }, d.status)),
        h("td", {}, String(d.attempts)),
        h("td", {}, d.last_status_code === null || d.last_status_code === undefined ? "—" : String(d.last_status_code)),
        h("td", {}, h("button", { type: "button", onclick: () => openDelivery(d.id) }, "Open", h("span", { class: "sr" }, ` delivery ${d.id}`))),
      ),
    );
    if (append) body.append(...rows);
    else body.replaceChildren(...rows);
    // A filtered page may come back empty with a cursor: the list read its budget (README: Operations).
    const none = cursor ? "None among the newest deliveries read: Show more reads further." : "No deliveries.";
    if (!append && !rows.length) body.append(h("tr", {}, h("td", { colspan: 6 }, none)));
  }
  table.append(
    h("caption", { class: "sr" }, "Deliveries to this endpoint"),
    h("thead", {}, h("tr", {}, ["Created", "Event type", "Status", "Attempts", "Last code"].map((c) => h("th", { scope: "col" }, c)), h("th", { scope: "col" }, h("span", { class: "sr" }, "Actions")))),
    body,
  );
  statusSelect.addEventListener("change", () => load(false, false));
  more.addEventListener("click", () => load(true, false));
  refresh.addEventListener("click", () => load(false, false));
  load(false);
  return h(
    "div",
    { class: "card" },
    field("Status", statusSelect),
    h("div", { class: "actions" }, refresh),
    h(
      "div",
      { class: "scroll" },
      table,
    ),
    more,
  );
}

function recoverForm(id) {
  const since = h("input", { type: "datetime-local", name: "since", required: true });
  const until = h("input", { type: "datetime-local", name: "until" });
  const day = new Date(Date.now() - 86400000);
  since.value = new Date(day.getTime() - day.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const form = h(
    "form",
    { class: "card" },
    field("Since", since, "Deliveries created since this time (at most 30 days back)"),
    field("Until (optional)", until, "Defaults to now"),
    h("button", { type: "submit" }, "Recover"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { since: new Date(since.value).toISOString() };
    if (until.value) body.until = new Date(until.value).toISOString();
    const done = await attempt(() => api("POST", `/v1/webhooks/${encodeURIComponent(id)}/recover`, body));
    if (done) notice(`${done.recovering} ${done.recovering === 1 ? "delivery" : "deliveries"} queued again.`);
  });
  return form;
}

// ---------------------------------------------------------------- deliveries

async function openDelivery(id, message) {
  state.view = "delivery";
  const delivery = await navigation(() => attempt(() => api("GET", `/v1/deliveries/${encodeURIComponent(id)}`)));
  if (!delivery) return;
  const facts = [
    ["Delivery", delivery.id],
    ["Event", delivery.event_id],
    ["Event type", delivery.event_type],
    ["URL", delivery.url],
    ["Status", delivery.status],
    ["Attempts", delivery.attempts],
    ["Next attempt", when(delivery.next_attempt_at)],
    ["Created", when(delivery.created_at)],
  ];
  const attempts = (delivery.attempt_log || []).map((a) =>
    h(
      "tr",
      {},
      h("td", {}, String(a.attempt)),
      h("td", {}, when(a.started_at)),
      h("td", {}, `${a.duration_ms} ms`),
      h("td", {}, a.status_code === null ? "—" : String(a.status_code)),
      h("td", { class: "wrap" }, a.error || ""),
      h("td", { class: "wrap" }, h("code", {}, a.response_body || "")),
    ),
  );
  const back = state.webhook
    ? h("button", { type: "button", class: "link", onclick: () => openWebhook(state.webhook.id) }, "← Back to the endpoint")
    : h("button", { type: "button", class: "link", onclick: listWebhooks }, "← All endpoints");
  show(
    h("p", {}, back),
    h("h2", {}, `Delivery ${delivery.id}`),
    h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { class: "wrap" }, String(v ?? "—"))])),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => retryDelivery(delivery.id) }, "Retry now"),
      h("button", { type: "button", onclick: () => openDelivery(delivery.id) }, "Refresh"),
    ),
    h("h3", {}, "Attempt log"),
    attempts.length
      ? h(
          "div",
          { class: "scroll" },
          h(
            "table",
            { class: "attempts" },
            h("caption", { class: "sr" }, "Attempts of this delivery"),
            h("thead", {}, h("tr", {}, ["#", "Started", "Duration", "Status code", "Error", "Response"].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, attempts),
          ),
        )
      : h("p", {}, "No attempt yet."),
  );
  if (message) notice(message);
}

async function retryDelivery(id) {
  const done = await attempt(() => api("POST", `/v1/deliveries/${encodeURIComponent(id)}/retry`));
  if (done) await openDelivery(id, `Retry queued (status ${done.status}).`);
}

// ---------------------------------------------------------------- signing secret

async function showSecret() {
  state.view = "secret";
  const secret = await navigation(() => attempt(() => api("GET", "/v1/secret")));
  if (!secret) return;
  const value = h("code", { id: "secret-value", class: "wrap" }, mask(secret.secret));
  let revealed = false;
  const toggle = h("button", { type: "button", "aria-controls": "secret-value", "aria-pressed": "false" }, "Reveal");
  toggle.addEventListener("click", () => {
    revealed = !revealed;
    value.textContent = revealed ? secret.secret : mask(secret.secret);
    toggle.textContent = revealed ? "Hide" : "Reveal";
    toggle.setAttribute("aria-pressed", String(revealed));
  });
  const grace = h("input", { type: "number", name: "grace_seconds", min: 0, max: 604800, value: 86400 });
  const form = h(
    "form",
    { class: "card" },
    field("Keep the old secret valid for (seconds)", grace, "0 retires it at once; at most 7 days"),
    h("button", { type: "submit", class: "danger" }, "Rotate secret"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const rotated = await attempt(() => api("POST", "/v1/secret/rotate", { grace_seconds: Number(grace.value) }));
    if (rotated) {
      await showSecret();
      notice(rotated.previous_expires_at ? `Secret rotated; the old one is accepted until ${when(rotated.previous_expires_at)}.` : "Secret rotated; the old one no longer signs.");
    }
  });
  show(
    h("h2", {}, "Signing secret"),
    h("p", {}, "Every delivery is signed with this secret (Standard Webhooks and X-Webhook-Signature headers). Verify signatures before trusting a payload."),
    h("div", { class: "card secret" }, value, toggle),
    h("p", {}, `Created ${when(secret.created_at)}.`, secret.previous_expires_at ? ` The previous secret is still accepted until ${when(secret.previous_expires_at)}.` : ""),
    h("h3", {}, "Rotate"),
    form,
  );
}

function mask(secret) {
  const prefix = secret.includes("_") ? secret.slice(0, secret.indexOf("_") + 1) : "";
  return `${prefix}${"•".repeat(24)}`;
}

// ---------------------------------------------------------------- start

function tokenFromFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  return params.get("token");
}

function start() {
  const remember = document.getElementById("remember");
  state.token = tokenFromFragment() || localStorage.getItem(STORAGE_KEY);
  remember.checked = Boolean(localStorage.getItem(STORAGE_KEY));
  remember.addEventListener("change", () => {
    if (remember.checked && state.token) localStorage.setItem(STORAGE_KEY, state.token);
    else localStorage.removeItem(STORAGE_KEY);
  });
  document.getElementById("forget").addEventListener("click", async () => {
    localStorage.removeItem(STORAGE_KEY);
    history.replaceState(null, "", window.location.pathname);
    endSession(true, await revokeSession());
  });
  if (!state.token) {
    show(h("h2", {}, "No portal link"), h("p", {}, "Open this page with the link you were given; it ends with #token=…"));
    return;
  }
  const nav = document.getElementById("nav");
  nav.hidden = false;
  for (const button of nav.querySelectorAll("button")) {
    button.addEventListener("click", () => {
      for (const other of nav.querySelectorAll("button")) other.removeAttribute("aria-current");
      button.setAttribute("aria-current", "page");
      if (button.dataset.view === "secret") showSecret();
      else listWebhooks();
    });
  }
  listWebhooks();
}

start();
